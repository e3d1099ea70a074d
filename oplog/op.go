package oplog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Version is the op envelope format version this build writes and reads.
const Version = 1

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
}

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

// Encode returns the op's canonical JSON.
func (o *Op) Encode() ([]byte, error) {
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

var typeRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// Decode parses an op from a feed, insisting on canonical bytes and the
// required fields.
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
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var o Op
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch {
	case o.V != Version:
		return nil, fmt.Errorf("%w: version %d (this build reads %d)", ErrMalformed, o.V, Version)
	case !typeRE.MatchString(o.Type):
		return nil, fmt.Errorf("%w: type %q", ErrMalformed, o.Type)
	case o.Actor == "" || o.Seq == 0 || o.Lamport == 0:
		return nil, fmt.Errorf("%w: actor, seq and lamport are required", ErrMalformed)
	}
	if _, err := time.Parse(TimeFormat, o.Time); err != nil {
		return nil, fmt.Errorf("%w: time %q", ErrMalformed, o.Time)
	}
	return &o, nil
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
