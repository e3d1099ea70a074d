package tokens

import (
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// CreateBody is the body of token.create: the token's id, name, scopes,
// expiry and the first 12 hex digits of its secret's SHA-256.
type CreateBody struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Scopes     []string `json:"scopes"`
	HashPrefix string   `json:"hash_prefix"`
	ExpiresAt  string   `json:"expires_at,omitempty"` // RFC 3339, UTC
}

// Check validates the body and normalizes its scopes.
func (b *CreateBody) Check() error {
	if !ValidID(b.ID) {
		return fmt.Errorf("%w: id %q", ErrBadToken, b.ID)
	}
	if err := CheckName(b.Name); err != nil {
		return err
	}
	sc, err := NormalizeScopes(b.Scopes)
	if err != nil {
		return err
	}
	b.Scopes = sc
	if !prefRE.MatchString(b.HashPrefix) {
		return fmt.Errorf("%w: hash prefix %q (12 hex digits)", ErrBadToken, b.HashPrefix)
	}
	if b.ExpiresAt != "" {
		if _, err := time.Parse(time.RFC3339, b.ExpiresAt); err != nil {
			return fmt.Errorf("%w: expires_at %q", ErrBadToken, b.ExpiresAt)
		}
	}
	return nil
}

// RotateBody is the body of token.rotate: the token and its new hash prefix.
type RotateBody struct {
	ID         string `json:"id"`
	HashPrefix string `json:"hash_prefix"`
}

// Check validates the body.
func (b *RotateBody) Check() error {
	if !ValidID(b.ID) {
		return fmt.Errorf("%w: id %q", ErrBadToken, b.ID)
	}
	if !prefRE.MatchString(b.HashPrefix) {
		return fmt.Errorf("%w: hash prefix %q (12 hex digits)", ErrBadToken, b.HashPrefix)
	}
	return nil
}

// RevokeBody is the body of token.revoke.
type RevokeBody struct {
	ID     string `json:"id"`
	Reason string `json:"reason,omitempty"`
}

// Check validates the body.
func (b *RevokeBody) Check() error {
	if !ValidID(b.ID) {
		return fmt.Errorf("%w: id %q", ErrBadToken, b.ID)
	}
	if len(b.Reason) > 1024 {
		return fmt.Errorf("%w: reason longer than 1 KiB", ErrBadToken)
	}
	b.Reason = trim(b.Reason)
	return nil
}

// Event is one rotation or the revocation of a token, as folded.
type Event struct {
	Op         string    `json:"op"`
	By         tasks.Ref `json:"by"`
	At         time.Time `json:"at"`
	HashPrefix string    `json:"hash_prefix,omitempty"`
	Reason     string    `json:"reason,omitempty"`
}

// Record is the folded audit state of one token.
type Record struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Operator   tasks.Ref  `json:"operator"`
	Scopes     []string   `json:"scopes"`
	HashPrefix string     `json:"hash_prefix"` // the current secret's
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	At         time.Time  `json:"at"`
	Op         string     `json:"op"`
	Rotations  []Event    `json:"rotations"`
	Revoked    *Event     `json:"revoked,omitempty"`
}

// Family is the token op types.
//
// Rules: token.create names no task, a fresh id, and only scopes the
// signer holds at the op's time (ScopeRead needs none; a label-restricted
// grant counts, its labels still bind every write made with the token).
// token.rotate and token.revoke act on a known, unrevoked token, signed by
// its operator or by a holder of identity.admin. The ops are the audit
// trail only: what authenticates a request is the local token file, and
// every write made with a token is folded as its operator's op, under the
// operator's own capabilities.
func Family() fold.Family {
	return fold.Family{Name: "tokens", Ops: []fold.Op{
		fold.Typed(OpCreate, create),
		fold.Typed(OpRotate, rotate),
		fold.Typed(OpRevoke, revoke),
	}}
}

type state interface {
	fold.Records
	trust.State
}

func signer(c *fold.Ctx) (state, *trust.Actor, error) {
	if c.Op.Task != "" {
		return nil, nil, oplog.Reject(oplog.KindInvalidBody, "%s names no task", c.Op.Type)
	}
	st, err := fold.As[state](c)
	if err != nil {
		return nil, nil, err
	}
	_, actor, err := trust.Signer(c)
	return st, actor, err
}

func create(c *fold.Ctx, b *CreateBody) error {
	st, actor, err := signer(c)
	if err != nil {
		return err
	}
	var old Record
	if ok, err := st.Record(Kind, b.ID, &old); err != nil {
		return err
	} else if ok {
		return oplog.Reject(oplog.KindDuplicate, "token %s exists", b.ID)
	}
	for _, s := range b.Scopes {
		why, err := Lacks(st, actor, s, c.At)
		if err != nil {
			return err
		}
		if why != "" {
			return oplog.Reject(oplog.KindUnauthorized, "a token cannot carry %s: %s", s, why)
		}
	}
	r := &Record{ID: b.ID, Name: b.Name, Operator: tasks.Ref{Name: actor.Name, Key: actor.KeyID}, Scopes: b.Scopes,
		HashPrefix: b.HashPrefix, At: c.At, Op: c.Entry.Commit, Rotations: []Event{}}
	if b.ExpiresAt != "" {
		t, _ := time.Parse(time.RFC3339, b.ExpiresAt)
		t = t.UTC()
		r.ExpiresAt = &t
	}
	return st.PutRecord(Kind, b.ID, r)
}

// mayChange loads a live token the signer may rotate or revoke.
func mayChange(c *fold.Ctx, id string) (state, *trust.Actor, *Record, error) {
	st, actor, err := signer(c)
	if err != nil {
		return nil, nil, nil, err
	}
	var r Record
	if ok, err := st.Record(Kind, id, &r); err != nil {
		return nil, nil, nil, err
	} else if !ok {
		return nil, nil, nil, oplog.Reject(oplog.KindNotFound, "no token %s", id)
	}
	if r.Revoked != nil {
		return nil, nil, nil, oplog.Reject(oplog.KindDuplicate, "token %s is already revoked", id)
	}
	if actor.Name != r.Operator.Name {
		if _, err := trust.FindBounded(st, actor, trust.Need{Scope: trust.ScopeIdentityAdmin}, c.At, c.Late); err != nil {
			if rej, ok := oplog.AsRejection(err); ok {
				return nil, nil, nil, oplog.Reject(rej.Kind, "token %s is %s's: %s", id, r.Operator.Name, rej.Reason)
			}
			return nil, nil, nil, err
		}
	}
	return st, actor, &r, nil
}

func rotate(c *fold.Ctx, b *RotateBody) error {
	st, actor, r, err := mayChange(c, b.ID)
	if err != nil {
		return err
	}
	r.HashPrefix = b.HashPrefix
	r.Rotations = append(r.Rotations, Event{Op: c.Entry.Commit, By: tasks.Ref{Name: actor.Name, Key: actor.KeyID}, At: c.At, HashPrefix: b.HashPrefix})
	return st.PutRecord(Kind, b.ID, r)
}

func revoke(c *fold.Ctx, b *RevokeBody) error {
	st, actor, r, err := mayChange(c, b.ID)
	if err != nil {
		return err
	}
	r.Revoked = &Event{Op: c.Entry.Commit, By: tasks.Ref{Name: actor.Name, Key: actor.KeyID}, At: c.At, Reason: b.Reason}
	return st.PutRecord(Kind, b.ID, r)
}

// Lacks says why actor could not give a token scope at t, or "" if it
// could: ScopeRead needs nothing, a trust root holds every scope, anyone
// else needs a live grant listing the scope (for some labels, if the grant
// is label-restricted).
func Lacks(st trust.State, actor *trust.Actor, scope string, t time.Time) (string, error) {
	if scope == ScopeRead || actor.Root {
		return "", nil
	}
	p, err := st.Principal(actor.Name)
	if err != nil {
		return "", err
	}
	if p == nil {
		return actor.Name + " is not an identity of this repository", nil
	}
	var why []string
	for _, id := range p.Grants {
		g, err := st.Grant(id)
		if err != nil {
			return "", err
		}
		if g == nil || !has(g.Scopes, scope) {
			continue
		}
		_, err = trust.Find(st, actor, trust.Need{Scope: scope, Labels: g.Labels}, t)
		if err == nil {
			return "", nil
		}
		rej, ok := oplog.AsRejection(err)
		if !ok {
			return "", err
		}
		why = append(why, rej.Reason)
	}
	if len(why) == 0 {
		return actor.Name + " holds no grant of " + scope, nil
	}
	return strings.Join(why, "; "), nil
}

func has(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
