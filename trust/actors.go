package trust

import (
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
	Since        *time.Time `json:"since,omitempty"` // time of the op that registered or rotated it in; nil for roots
	// Cut is the key's last accepted position, named by a version 2
	// revocation or rotation: its ops after it are invalid wherever they
	// sort. GrantCuts are the same per grant, from version 2 grant
	// revocations.
	Cut       *Cut              `json:"cut,omitempty"`
	GrantCuts map[string]uint64 `json:"grant_cuts,omitempty"`
}

// Known reports whether the key was ever a trust root or registered, even
// if it is retired now: its feed belongs to the repository's history.
func (a *Actor) Known() bool { return a != nil && (a.Root || a.RegisteredBy != "") }

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
	if err := checkCut(a, op); err != nil {
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
