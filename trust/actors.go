package trust

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/oplog"
)

// Op types this package folds.
const (
	OpGenesis  = "actor.genesis"
	OpRegister = "identity.register"
	OpRotate   = "identity.rotate"
	OpRevokeID = "identity.revoke"
	OpGrant    = "cap.grant"
	OpRevoke   = "cap.revoke"
)

// Root is a trust root named in .covenant/config.toml.
type Root struct {
	Name string `toml:"name" json:"name"`
	Key  string `toml:"key" json:"key"`
}

// Actor is what the feeds say about one key.
type Actor struct {
	KeyID        string     `json:"key_id"`
	Name         string     `json:"name"`
	Role         string     `json:"role"`
	Key          string     `json:"key"` // "ssh-ed25519 AAAA…"
	Root         bool       `json:"root"`
	RegisteredBy string     `json:"registered_by,omitempty"`
	Genesis      string     `json:"genesis,omitempty"` // commit of the actor's genesis op
	Retired      string     `json:"retired,omitempty"` // "rotated" or "revoked": later ops are invalid
	RetiredAt    *time.Time `json:"retired_at,omitempty"`
}

// Trusted reports whether the key may act at all.
func (a *Actor) Trusted() bool {
	return a != nil && (a.Root || a.RegisteredBy != "") && a.Retired == ""
}

// Revocation records who withdrew something, when and why.
type Revocation struct {
	Op     string    `json:"op"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Principal is a named identity across key rotations.
type Principal struct {
	Name    string      `json:"name"`
	Role    string      `json:"role"`
	Key     string      `json:"key_id"` // current key
	Keys    []string    `json:"keys"`   // every key it ever had, oldest first
	Root    bool        `json:"root"`
	Revoked *Revocation `json:"revoked,omitempty"`
	Grants  []string    `json:"grants"` // ids of grants made to it
}

// State is the part of folded state this package reads and writes. Actor
// returns an untrusted empty actor for an unknown key; Principal and Grant
// return nil for unknown names and ids.
type State interface {
	Actor(keyID string) (*Actor, error)
	PutActor(*Actor) error
	Principal(name string) (*Principal, error)
	PutPrincipal(*Principal) error
	Grant(id string) (*Grant, error)
	PutGrant(*Grant) error
}

// IdentityBody is the body of genesis, registration and rotation ops.
type IdentityBody struct {
	Name string `json:"name"`
	Role string `json:"role"`
	Key  string `json:"key"`
}

// RevokeIdentityBody is the body of identity.revoke.
type RevokeIdentityBody struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// SeedRoots records the config's roots as trusted actors and principals.
func SeedRoots(st State, roots []Root) error {
	for _, r := range roots {
		pub, err := identity.ParsePublicKey(r.Key)
		if err != nil {
			return fmt.Errorf("trust root %s: %w", r.Name, err)
		}
		id := identity.KeyID(pub)
		a := &Actor{KeyID: id, Name: r.Name, Role: string(identity.Human), Key: identity.FormatPublicKey(pub), Root: true}
		if err := st.PutActor(a); err != nil {
			return err
		}
		p, err := st.Principal(r.Name)
		if err != nil {
			return err
		}
		if p == nil {
			p = &Principal{Name: r.Name, Role: a.Role, Key: id, Root: true, Grants: []string{}}
		}
		p.Keys = append(p.Keys, id)
		if err := st.PutPrincipal(p); err != nil {
			return err
		}
	}
	return nil
}

// Authorize returns the acting actor if its key may act at all.
func Authorize(st State, op *oplog.Op) (*Actor, error) {
	a, err := st.Actor(op.Actor)
	if err != nil {
		return nil, err
	}
	switch {
	case a.Retired == "rotated":
		return nil, oplog.Reject(oplog.KindRotatedKey, "key %s of %s was rotated out at %s", op.Actor, a.Name, a.RetiredAt.Format(time.RFC3339))
	case a.Retired == "revoked":
		return nil, oplog.Reject(oplog.KindRevokedKey, "identity %s (key %s) was revoked at %s", a.Name, op.Actor, a.RetiredAt.Format(time.RFC3339))
	case !a.Trusted():
		return nil, oplog.Reject(oplog.KindUntrustedKey, "key %s is neither a trust root nor registered by an identity admin", op.Actor)
	}
	return a, nil
}

func decodeBody(op *oplog.Op, v any) error {
	if err := json.Unmarshal(op.Body, v); err != nil {
		return oplog.Reject(oplog.KindInvalidBody, "%s body: %v", op.Type, err)
	}
	return nil
}

func decodeIdentity(op *oplog.Op) (*IdentityBody, string, error) {
	var b IdentityBody
	if err := decodeBody(op, &b); err != nil {
		return nil, "", err
	}
	if err := identity.CheckName(b.Name); err != nil {
		return nil, "", oplog.Reject(oplog.KindInvalidBody, "%s: %v", op.Type, err)
	}
	if _, err := identity.ParseRole(b.Role); err != nil {
		return nil, "", oplog.Reject(oplog.KindInvalidBody, "%s: %v", op.Type, err)
	}
	pub, err := identity.ParsePublicKey(b.Key)
	if err != nil {
		return nil, "", oplog.Reject(oplog.KindInvalidBody, "%s: %v", op.Type, err)
	}
	b.Key = identity.FormatPublicKey(pub)
	return &b, identity.KeyID(pub), nil
}

// Apply folds one trust op. It returns a Rejection for ops the fold
// ignores, and then leaves state unchanged.
func Apply(st State, e *oplog.Entry) error {
	op := e.Op
	actor, err := Authorize(st, op)
	if err != nil {
		return err
	}
	at := op.When()
	switch op.Type {
	case OpGenesis:
		b, keyID, err := decodeIdentity(op)
		if err != nil {
			return err
		}
		if keyID != op.Actor {
			return oplog.Reject(oplog.KindInvalidBody, "genesis names key %s but was written by %s", keyID, op.Actor)
		}
		if op.Seq != 1 {
			return oplog.Reject(oplog.KindIllegal, "genesis at seq %d, must be the first op of a feed", op.Seq)
		}
		if actor.Genesis != "" {
			return oplog.Reject(oplog.KindDuplicate, "second genesis for key %s", op.Actor)
		}
		actor.Genesis = e.Commit
		if actor.Root {
			actor.Role = b.Role
			if p, err := st.Principal(actor.Name); err == nil && p != nil && p.Root {
				p.Role = b.Role
				if err := st.PutPrincipal(p); err != nil {
					return err
				}
			}
		}
		return st.PutActor(actor)
	case OpRegister:
		g, err := Find(st, actor, Need{Scope: ScopeIdentityAdmin}, at)
		if err != nil {
			return err
		}
		b, keyID, err := decodeIdentity(op)
		if err != nil {
			return err
		}
		a, err := st.Actor(keyID)
		if err != nil {
			return err
		}
		if a.Trusted() || a.Retired != "" {
			return oplog.Reject(oplog.KindDuplicate, "key %s is already known as %s", keyID, a.Name)
		}
		p, err := st.Principal(b.Name)
		if err != nil {
			return err
		}
		if p != nil {
			return oplog.Reject(oplog.KindDuplicate, "identity %s already exists (rotate its key instead)", b.Name)
		}
		a.KeyID, a.Name, a.Role, a.Key, a.RegisteredBy = keyID, b.Name, b.Role, b.Key, actor.KeyID
		if err := Use(st, g); err != nil {
			return err
		}
		if err := st.PutPrincipal(&Principal{Name: b.Name, Role: b.Role, Key: keyID, Keys: []string{keyID}, Grants: []string{}}); err != nil {
			return err
		}
		return st.PutActor(a)
	case OpRotate:
		b, keyID, err := decodeIdentity(op)
		if err != nil {
			return err
		}
		p, err := st.Principal(b.Name)
		if err != nil {
			return err
		}
		if p == nil || p.Revoked != nil {
			return oplog.Reject(oplog.KindNotFound, "no live identity %s to rotate", b.Name)
		}
		if p.Root {
			return oplog.Reject(oplog.KindIllegal, "%s is a trust root: change its key in .covenant/config.toml", b.Name)
		}
		var g *Grant
		if p.Key != actor.KeyID {
			if g, err = Find(st, actor, Need{Scope: ScopeIdentityAdmin}, at); err != nil {
				return oplog.Reject(oplog.KindUnauthorized, "only %s's current key or an identity admin may rotate its key: %v", b.Name, err)
			}
		}
		nk, err := st.Actor(keyID)
		if err != nil {
			return err
		}
		if nk.Trusted() || nk.Retired != "" {
			return oplog.Reject(oplog.KindDuplicate, "key %s is already known as %s", keyID, nk.Name)
		}
		old, err := st.Actor(p.Key)
		if err != nil {
			return err
		}
		if err := Use(st, g); err != nil {
			return err
		}
		old.Retired, old.RetiredAt = "rotated", &at
		nk.KeyID, nk.Name, nk.Role, nk.Key, nk.RegisteredBy = keyID, p.Name, p.Role, b.Key, actor.KeyID
		p.Key = keyID
		p.Keys = append(p.Keys, keyID)
		for _, x := range []*Actor{old, nk} {
			if err := st.PutActor(x); err != nil {
				return err
			}
		}
		return st.PutPrincipal(p)
	case OpRevokeID:
		g, err := Find(st, actor, Need{Scope: ScopeIdentityAdmin}, at)
		if err != nil {
			return err
		}
		var b RevokeIdentityBody
		if err := decodeBody(op, &b); err != nil {
			return err
		}
		p, err := st.Principal(b.Name)
		if err != nil {
			return err
		}
		switch {
		case p == nil:
			return oplog.Reject(oplog.KindNotFound, "no identity %s", b.Name)
		case p.Root:
			return oplog.Reject(oplog.KindIllegal, "%s is a trust root: remove it from .covenant/config.toml", b.Name)
		case p.Revoked != nil:
			return oplog.Reject(oplog.KindDuplicate, "identity %s is already revoked", b.Name)
		case b.Reason == "":
			return oplog.Reject(oplog.KindInvalidBody, "a revocation needs a reason")
		}
		if err := Use(st, g); err != nil {
			return err
		}
		p.Revoked = &Revocation{Op: e.Commit, By: actor.Name, At: at, Reason: b.Reason}
		for _, k := range p.Keys {
			a, err := st.Actor(k)
			if err != nil {
				return err
			}
			if a.Retired == "" {
				a.Retired, a.RetiredAt = "revoked", &at
				if err := st.PutActor(a); err != nil {
					return err
				}
			}
		}
		return st.PutPrincipal(p)
	case OpGrant:
		return applyGrant(st, actor, e)
	case OpRevoke:
		return applyRevoke(st, actor, e)
	}
	return oplog.Reject(oplog.KindInvalidBody, "unknown op type %s", op.Type)
}
