package fold

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/oplog"
)

var (
	// ErrDuplicateType means two families register the same op type.
	ErrDuplicateType = errors.New("op type registered twice")
	// ErrState means the state given to the fold lacks what a family needs.
	ErrState = errors.New("fold state lacks a family's records")
)

// State is folded state. Every family reads and writes its part through an
// interface of its own that the state implements (trust.State, tasks.State);
// Records is the part a new family can use without the index knowing it.
type State interface {
	Records
}

// Records stores a family's records as JSON, by kind and key.
type Records interface {
	// Record decodes the record kind/key into v and reports whether it exists.
	Record(kind, key string, v any) (bool, error)
	// PutRecord stores v as the record kind/key.
	PutRecord(kind, key string, v any) error
}

// Postings is an inverted index kept next to Records: for a kind, the
// keys each term occurs in, so a search reads the keys of its terms
// instead of scanning every record. Postings are only ever added (a
// family's terms of a key do not change); a term holds no NUL byte.
type Postings interface {
	AddPostings(kind, key string, terms []string) error
}

// PostingKey is how a posting is stored: kind, term and key joined by
// NUL bytes, so one term's keys sort together and in key order.
func PostingKey(kind, term, key string) string { return kind + "\x00" + term + "\x00" + key }

// Ctx is one op being folded.
type Ctx struct {
	State State
	Entry *oplog.Entry
	Op    *oplog.Op
	At    time.Time // the op's signed time
	// Late is At raised to the latest time witness that does not cover the
	// op (ADR 0010): a rule an op passes by being early (its lease or grant
	// still live) decides at Late. A rule it passes by being late (someone
	// else's lease over) decides at At, which sync bounds from above.
	Late time.Time
	// Body is what the op type's Check returned: the decoded, checked body.
	Body any
}

// As returns the context's state as the interface S a family needs.
func As[S any](c *Ctx) (S, error) {
	s, ok := c.State.(S)
	if !ok {
		var zero S
		return zero, fmt.Errorf("%w: %T for %s", ErrState, c.State, c.Op.Type)
	}
	return s, nil
}

// Op is one registered op type.
type Op struct {
	Type string
	// Check validates the op on its own, without state, and returns its
	// decoded body. An error is why the op is invalid; the fold turns it
	// into an invalid-body rejection. The writer runs it before signing.
	Check func(op *oplog.Op) (any, error)
	// Apply folds the op. It returns a *oplog.Rejection for an op the fold
	// ignores, and then leaves state unchanged: every rule is checked before
	// anything is changed. Other errors abort the fold.
	Apply func(c *Ctx) error
}

// Family is the op types one domain package owns.
type Family struct {
	Name string
	Ops  []Op
}

// Guard is a check every op passes before its family's Apply: that the
// signer may act at all, at the op's feed position and time. It returns a
// *oplog.Rejection to refuse the op.
type Guard func(c *Ctx) error

// Registry dispatches ops to the families that own their types.
type Registry struct {
	ops    map[string]*Op
	guards []Guard
	digest string
}

// New builds a registry from guards, run in order on every op, and families.
func New(guards []Guard, families ...Family) (*Registry, error) {
	r := &Registry{ops: map[string]*Op{}, guards: guards}
	owner := map[string]string{}
	for _, f := range families {
		for i := range f.Ops {
			op := &f.Ops[i]
			if prev, dup := owner[op.Type]; dup {
				return nil, fmt.Errorf("%w: %s by %s and %s", ErrDuplicateType, op.Type, prev, f.Name)
			}
			if op.Apply == nil {
				return nil, fmt.Errorf("register %s: no Apply", op.Type)
			}
			owner[op.Type] = f.Name
			r.ops[op.Type] = op
		}
	}
	types := r.Types()
	lines := make([]string, len(types))
	for i, t := range types {
		lines[i] = owner[t] + " " + t
	}
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	r.digest = hex.EncodeToString(sum[:8])
	return r, nil
}

// MustNew is New for registries composed in code, where an error is a bug.
func MustNew(guards []Guard, families ...Family) *Registry {
	r, err := New(guards, families...)
	if err != nil {
		panic(err)
	}
	return r
}

// Types lists the registered op types, sorted.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.ops))
	for t := range r.ops {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Digest names the set of registered types and their families, so an index
// folded by another set is rebuilt.
func (r *Registry) Digest() string { return r.digest }

// Check validates an op on its own, as the fold will before applying it,
// and returns its decoded body: the writer calls it before signing.
func (r *Registry) Check(op *oplog.Op) (any, error) {
	o, ok := r.ops[op.Type]
	if !ok {
		return nil, oplog.Reject(oplog.KindInvalidBody, "unknown op type %s", op.Type)
	}
	if o.Check == nil {
		return nil, nil
	}
	b, err := o.Check(op)
	if err != nil {
		if _, ok := oplog.AsRejection(err); ok {
			return nil, err
		}
		return nil, oplog.Reject(oplog.KindInvalidBody, "%v", err)
	}
	return b, nil
}

// Apply folds one verified entry: the guards, then the op type's Check and
// Apply. It returns a *oplog.Rejection for an op the fold ignores.
func (r *Registry) Apply(st State, e *oplog.Entry) error {
	at := e.Op.When()
	c := &Ctx{State: st, Entry: e, Op: e.Op, At: at, Late: at}
	if e.Floor > at.Unix() {
		c.Late = time.Unix(e.Floor, 0).UTC()
	}
	o, ok := r.ops[e.Op.Type]
	for _, g := range r.guards {
		if err := g(c); err != nil {
			return err
		}
	}
	if !ok {
		return oplog.Reject(oplog.KindInvalidBody, "unknown op type %s", e.Op.Type)
	}
	b, err := r.Check(e.Op)
	if err != nil {
		return err
	}
	c.Body = b
	return o.Apply(c)
}

// Checker is a body that validates (and normalizes) itself.
type Checker interface{ Check() error }

// Typed registers an op type whose body decodes strictly into B and is
// checked by (*B).Check; apply gets the checked body.
func Typed[B any, P interface {
	*B
	Checker
}](typ string, apply func(c *Ctx, b P) error) Op {
	return Op{
		Type: typ,
		Check: func(op *oplog.Op) (any, error) {
			b := P(new(B))
			if err := DecodeBody(op, b); err != nil {
				return nil, err
			}
			if err := b.Check(); err != nil {
				return nil, err
			}
			return b, nil
		},
		Apply: func(c *Ctx) error { return apply(c, c.Body.(P)) },
	}
}

// DecodeBody decodes an op's body into v, refusing unknown fields and
// fields spelled in another case; an absent body decodes as {}.
func DecodeBody(op *oplog.Op, v any) error {
	raw := []byte(op.Body)
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return oplog.Reject(oplog.KindInvalidBody, "%s body: %v", op.Type, err)
	}
	if err := exactSpelling(raw, reflect.TypeOf(v), ""); err != nil {
		return oplog.Reject(oplog.KindInvalidBody, "%s body: %v", op.Type, err)
	}
	return nil
}
