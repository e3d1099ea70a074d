package oplog

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/internal/lazyre"
)

// Version is the op envelope format version this build writes. It reads
// VersionCausal and Version1: version 1 ops carry no causal metadata and
// keep their old meaning (see docs/format.md).
const Version = VersionCausal

// Envelope versions.
const (
	Version1      = 1
	VersionCausal = 2
)

// MaxLamportStep bounds how far an op's Lamport clock may rise above the
// highest clock it has seen (its own feed's previous op and every op its
// seen-vector names): an honest writer uses exactly one more.
const MaxLamportStep = 1024

// MaxOpSize bounds an op's canonical JSON.
const MaxOpSize = 1 << 20

var (
	// ErrNotCanonical means an op's bytes are not its canonical JSON encoding.
	ErrNotCanonical = errors.New("op is not canonical JSON")
	// ErrMalformed means an op lacks a required field or has a wrong value.
	ErrMalformed = errors.New("malformed op")
	// ErrTooLarge means an op exceeds MaxOpSize.
	ErrTooLarge = errors.New("op too large")
)

// Op is one operation in an actor's feed.
type Op struct {
	V       int             `json:"v"`
	Type    string          `json:"type"`
	Actor   string          `json:"actor"` // key id of the signer
	Seq     uint64          `json:"seq"`   // 1-based position in the actor's feed
	Lamport uint64          `json:"lamport"`
	Time    string          `json:"time"` // RFC 3339, UTC, whole seconds
	Task    string          `json:"task,omitempty"`
	Epoch   uint64          `json:"epoch,omitempty"` // lease epoch the actor acts under
	Body    json.RawMessage `json:"body,omitempty"`
	// Seen (version 2) is the part of the writer's seen-vector that changed
	// since its previous op: for each other feed whose folded position
	// moved, the seq of the feed's newest op the writer had folded. The
	// whole vector is the union of the entries of the feed's ops so far.
	Seen map[string]uint64 `json:"seen,omitempty"`
}

// Causal reports whether the op carries causal metadata (version 2).
func (o *Op) Causal() bool { return o.V >= VersionCausal }

// TimeFormat is the layout of Op.Time.
const TimeFormat = "2006-01-02T15:04:05Z"

// FormatTime renders t as Op.Time.
func FormatTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(TimeFormat) }

// When parses Op.Time.
func (o *Op) When() time.Time {
	t, _ := time.Parse(TimeFormat, o.Time)
	return t
}

// Key is the op's place in the total order.
func (o *Op) Key() OrderKey { return OrderKey{Lamport: o.Lamport, Actor: o.Actor, Seq: o.Seq} }

// Encode returns the op's canonical JSON. It refuses an op Decode would
// refuse.
func (o *Op) Encode() ([]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	c, err := Canonicalize(b)
	if err != nil {
		return nil, err
	}
	if len(c) > MaxOpSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(c), MaxOpSize)
	}
	return c, nil
}

var (
	typeRE  = &lazyre.Regexp{Expr: `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`}
	keyIDRE = &lazyre.Regexp{Expr: `^[0-9a-f]{32}$`}
)

// The window of op times this build accepts, [MinTime, MaxTime). It keeps
// every time the fold derives from an op (a lease's expiry, at most seven
// days later; a grant's expiry) far inside what RFC 3339 and JSON can
// encode, so one op dated 9999-12-31 cannot stop anyone's index.
var (
	MinTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// check validates the envelope's values; Encode and Decode both apply it,
// so a writer cannot sign an op that readers would refuse.
func (o *Op) check() error {
	switch {
	case o.V != Version1 && o.V != VersionCausal:
		return fmt.Errorf("%w: version %d (this build reads %d and %d)", ErrMalformed, o.V, Version1, VersionCausal)
	case o.V == Version1 && o.Seen != nil:
		return fmt.Errorf("%w: a version 1 op carries no seen-vector", ErrMalformed)
	case o.Seen != nil && len(o.Seen) == 0:
		return fmt.Errorf("%w: empty seen-vector delta (omit it)", ErrMalformed)
	case !typeRE.MatchString(o.Type):
		return fmt.Errorf("%w: type %q", ErrMalformed, o.Type)
	case o.Actor == "" || o.Seq == 0 || o.Lamport == 0:
		return fmt.Errorf("%w: actor, seq and lamport are required", ErrMalformed)
	case len(o.Body) > 0 && o.Body[0] != '{':
		return fmt.Errorf("%w: body is not an object", ErrMalformed)
	}
	t, err := time.Parse(TimeFormat, o.Time)
	if err != nil || FormatTime(t) != o.Time {
		return fmt.Errorf("%w: time %q is not of the form %s", ErrMalformed, o.Time, TimeFormat)
	}
	if t.Before(MinTime) || !t.Before(MaxTime) {
		return fmt.Errorf("%w: time %s is outside %s .. %s", ErrMalformed, o.Time, FormatTime(MinTime), FormatTime(MaxTime))
	}
	for k, s := range o.Seen {
		if k == o.Actor || s == 0 || !keyIDRE.MatchString(k) {
			return fmt.Errorf("%w: seen entry %q: %d", ErrMalformed, k, s)
		}
	}
	return nil
}

// OrderKey totally orders ops across feeds.
type OrderKey struct {
	Lamport uint64
	Actor   string
	Seq     uint64
}

// Less reports whether k sorts before o.
func (k OrderKey) Less(o OrderKey) bool {
	if k.Lamport != o.Lamport {
		return k.Lamport < o.Lamport
	}
	if k.Actor != o.Actor {
		return k.Actor < o.Actor
	}
	return k.Seq < o.Seq
}

// String encodes the key so that byte order equals the total order.
func (k OrderKey) String() string { return fmt.Sprintf("%016x/%s/%016x", k.Lamport, k.Actor, k.Seq) }

// ParseOrderKey reverses String.
func ParseOrderKey(s string) (OrderKey, error) {
	var k OrderKey
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return k, fmt.Errorf("bad order key %q", s)
	}
	if _, err := fmt.Sscanf(parts[0]+" "+parts[2], "%x %x", &k.Lamport, &k.Seq); err != nil {
		return k, fmt.Errorf("bad order key %q", s)
	}
	k.Actor = parts[1]
	return k, nil
}

// Sort orders ops by OrderKey.
func Sort[T any](xs []T, key func(T) OrderKey) {
	sort.Slice(xs, func(i, j int) bool { return key(xs[i]).Less(key(xs[j])) })
}
