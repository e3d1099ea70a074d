package trust

import (
	"encoding/json"
	"fmt"

	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/oplog"
)

// Op types this package folds.
const (
	OpGenesis  = "actor.genesis"
	OpRegister = "identity.register"
)

// Root is a trust root named in .covenant/config.toml.
type Root struct {
	Name string `toml:"name" json:"name"`
	Key  string `toml:"key" json:"key"`
}

// Actor is what the feeds say about one key.
type Actor struct {
	KeyID        string `json:"key_id"`
	Name         string `json:"name"`
	Role         string `json:"role"`
	Key          string `json:"key"` // "ssh-ed25519 AAAA…"
	Root         bool   `json:"root"`
	RegisteredBy string `json:"registered_by,omitempty"`
	Genesis      string `json:"genesis,omitempty"` // commit of the actor's genesis op
}

// Trusted reports whether the actor may act at all.
func (a *Actor) Trusted() bool { return a != nil && (a.Root || a.RegisteredBy != "") }

// Actors is the part of folded state this package reads and writes.
type Actors interface {
	Actor(keyID string) (*Actor, error)
	PutActor(*Actor) error
}

// IdentityBody is the body of genesis and registration ops.
type IdentityBody struct {
	Name string `json:"name"`
	Role string `json:"role"`
	Key  string `json:"key"`
}

// SeedRoots records the config's roots as trusted actors.
func SeedRoots(st Actors, roots []Root) error {
	for _, r := range roots {
		pub, err := identity.ParsePublicKey(r.Key)
		if err != nil {
			return fmt.Errorf("trust root %s: %w", r.Name, err)
		}
		a := &Actor{KeyID: identity.KeyID(pub), Name: r.Name, Role: string(identity.Human), Key: identity.FormatPublicKey(pub), Root: true}
		if err := st.PutActor(a); err != nil {
			return err
		}
	}
	return nil
}

// Authorize returns the acting actor if it is trusted.
func Authorize(st Actors, op *oplog.Op) (*Actor, error) {
	a, err := st.Actor(op.Actor)
	if err != nil {
		return nil, err
	}
	if !a.Trusted() {
		return nil, oplog.Reject(oplog.KindUntrustedKey, "key %s is neither a trust root nor registered by one", op.Actor)
	}
	return a, nil
}

func decodeIdentity(op *oplog.Op) (*IdentityBody, string, error) {
	var b IdentityBody
	if err := json.Unmarshal(op.Body, &b); err != nil {
		return nil, "", oplog.Reject(oplog.KindInvalidBody, "%s body: %v", op.Type, err)
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
	return &b, identity.KeyID(pub), nil
}

// Apply folds one trust op. It returns a Rejection for ops the fold ignores.
func Apply(st Actors, e *oplog.Entry) error {
	op := e.Op
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
		a, err := Authorize(st, op)
		if err != nil {
			return err
		}
		if a.Genesis != "" {
			return oplog.Reject(oplog.KindDuplicate, "second genesis for key %s", op.Actor)
		}
		a.Genesis = e.Commit
		if !a.Root && a.RegisteredBy == "" {
			a.Name, a.Role = b.Name, b.Role
		}
		if a.Root {
			a.Role = b.Role
		}
		return st.PutActor(a)
	case OpRegister:
		reg, err := Authorize(st, op)
		if err != nil {
			return err
		}
		if !reg.Root {
			return oplog.Reject(oplog.KindUnauthorized, "only a trust root may register identities (%s is not one)", reg.Name)
		}
		b, keyID, err := decodeIdentity(op)
		if err != nil {
			return err
		}
		a, err := st.Actor(keyID)
		if err != nil {
			return err
		}
		if a.Trusted() {
			return oplog.Reject(oplog.KindDuplicate, "key %s is already trusted as %s", keyID, a.Name)
		}
		a.KeyID, a.Name, a.Role, a.Key, a.RegisteredBy = keyID, b.Name, b.Role, b.Key, reg.KeyID
		return st.PutActor(a)
	}
	return oplog.Reject(oplog.KindInvalidBody, "unknown op type %s", op.Type)
}
