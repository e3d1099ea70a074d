package oplog

import (
	"bytes"
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

// envelopeField says whether k is an op.json key, spelled exactly as it
// must be (a switch, not a package-level map: nothing to build at start-up).
func envelopeField(k string) bool {
	switch k {
	case "v", "type", "actor", "seq", "lamport", "time", "task", "epoch", "body", "seen":
		return true
	}
	return false
}

// Decode parses an op from a feed. It insists on canonical bytes, on the
// envelope's exact field names (Go's decoder alone would match "ACtor" to
// actor), on the required fields, on a canonical time inside the window,
// and finally on re-encoding giving back the very same bytes, so an op has
// exactly one spelling.
func Decode(b []byte) (*Op, error) {
	if len(b) > MaxOpSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	c, err := Canonicalize(b)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(c, b) {
		return nil, ErrNotCanonical
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for k := range fields {
		if !envelopeField(k) {
			return nil, fmt.Errorf("%w: unknown field %q", ErrMalformed, k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var o Op
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	// Optional fields are omitted, never empty: "task":"", "epoch":0 and
	// "body":null are other spellings of an absent field.
	for k, empty := range map[string]bool{"task": o.Task == "", "epoch": o.Epoch == 0, "body": len(o.Body) == 0 || string(o.Body) == "null"} {
		if _, present := fields[k]; present && empty {
			return nil, fmt.Errorf("%w: empty optional field %q (omit it)", ErrMalformed, k)
		}
	}
	again, err := o.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w: re-encoding the op gives other bytes", ErrMalformed)
	}
	return &o, nil
}

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
