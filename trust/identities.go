package trust

import (
	"strings"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/oplog"
)

// IdentityBody is the body of genesis, registration and rotation ops.
type IdentityBody struct {
	Name string `json:"name"`
	Role string `json:"role"`
	Key  string `json:"key"`
	// Cutoff (identity.rotate by an admin, version 2) is the old key's
	// last accepted position; a key rotating itself is cut at the
	// rotation op.
	Cutoff *Position `json:"cutoff,omitempty"`

	keyID string // of Key, set by Check
}

// Check validates the name, role and key, normalizing the key's text.
func (b *IdentityBody) Check() error {
	if err := identity.CheckName(b.Name); err != nil {
		return err
	}
	if _, err := identity.ParseRole(b.Role); err != nil {
		return err
	}
	pub, err := identity.ParsePublicKey(b.Key)
	if err != nil {
		return err
	}
	b.Key, b.keyID = identity.FormatPublicKey(pub), identity.KeyID(pub)
	return nil
}

// RevokeIdentityBody is the body of identity.revoke.
type RevokeIdentityBody struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
	// Cutoff (version 2) is the identity's current key's last accepted
	// position.
	Cutoff *Position `json:"cutoff,omitempty"`
}

// Check requires a reason.
func (b *RevokeIdentityBody) Check() error {
	if strings.TrimSpace(b.Reason) == "" {
		return oplog.Reject(oplog.KindInvalidBody, "a revocation needs a reason")
	}
	return nil
}

// applyGenesis starts a feed: its first op names the key that signs it.
func applyGenesis(st State, actor *Actor, c *fold.Ctx, b *IdentityBody) error {
	op := c.Op
	if b.keyID != op.Actor {
		return oplog.Reject(oplog.KindInvalidBody, "genesis names key %s but was written by %s", b.keyID, op.Actor)
	}
	if op.Seq != 1 {
		return oplog.Reject(oplog.KindIllegal, "genesis at seq %d, must be the first op of a feed", op.Seq)
	}
	if actor.Genesis != "" {
		return oplog.Reject(oplog.KindDuplicate, "second genesis for key %s", op.Actor)
	}
	actor.Genesis = c.Entry.Commit
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
}

// applyRegister introduces a new identity with its first key.
func applyRegister(st State, actor *Actor, c *fold.Ctx, b *IdentityBody) error {
	g, err := FindBounded(st, actor, Need{Scope: ScopeIdentityAdmin, Seq: c.Op.Seq}, c.At, c.Late)
	if err != nil {
		return err
	}
	a, err := st.Actor(b.keyID)
	if err != nil {
		return err
	}
	if a.Trusted() || a.Retired != "" {
		return oplog.Reject(oplog.KindDuplicate, "key %s is already known as %s", b.keyID, a.Name)
	}
	p, err := st.Principal(b.Name)
	if err != nil {
		return err
	}
	if p != nil {
		return oplog.Reject(oplog.KindDuplicate, "identity %s already exists (rotate its key instead)", b.Name)
	}
	at := c.At
	a.KeyID, a.Name, a.Role, a.Key, a.RegisteredBy, a.Since = b.keyID, b.Name, b.Role, b.Key, actor.KeyID, &at
	if err := Use(st, g); err != nil {
		return err
	}
	if err := st.PutPrincipal(&Principal{Name: b.Name, Role: b.Role, Key: b.keyID, Keys: []string{b.keyID}, Grants: []string{}}); err != nil {
		return err
	}
	return st.PutActor(a)
}

// applyRotate moves an identity to a new key; the old key's later ops are
// invalid.
func applyRotate(st State, actor *Actor, c *fold.Ctx, b *IdentityBody) error {
	at := c.At
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
		if g, err = FindBounded(st, actor, Need{Scope: ScopeIdentityAdmin, Seq: c.Op.Seq}, c.At, c.Late); err != nil {
			return oplog.Reject(oplog.KindUnauthorized, "only %s's current key or an identity admin may rotate its key: %v", b.Name, err)
		}
		if err := cutoff(c.Op, b.Cutoff, []string{p.Key}); err != nil {
			return err
		}
	}
	nk, err := st.Actor(b.keyID)
	if err != nil {
		return err
	}
	if nk.Trusted() || nk.Retired != "" {
		return oplog.Reject(oplog.KindDuplicate, "key %s is already known as %s", b.keyID, nk.Name)
	}
	old, err := st.Actor(p.Key)
	if err != nil {
		return err
	}
	if err := Use(st, g); err != nil {
		return err
	}
	old.Retired, old.RetiredAt = "rotated", &at
	for _, cut := range CutsOf(st, c.Entry) {
		if err := setCut(st, old, cut); err != nil {
			return err
		}
	}
	nk.KeyID, nk.Name, nk.Role, nk.Key, nk.RegisteredBy, nk.Since = b.keyID, p.Name, p.Role, b.Key, actor.KeyID, &at
	p.Key = b.keyID
	p.Keys = append(p.Keys, b.keyID)
	for _, x := range []*Actor{old, nk} {
		if err := st.PutActor(x); err != nil {
			return err
		}
	}
	return st.PutPrincipal(p)
}

// applyRevokeIdentity tombstones an identity and every key it had.
func applyRevokeIdentity(st State, actor *Actor, c *fold.Ctx, b *RevokeIdentityBody) error {
	at := c.At
	g, err := FindBounded(st, actor, Need{Scope: ScopeIdentityAdmin, Seq: c.Op.Seq}, c.At, c.Late)
	if err != nil {
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
	}
	if err := cutoff(c.Op, b.Cutoff, p.Keys); err != nil {
		return err
	}
	if err := Use(st, g); err != nil {
		return err
	}
	p.Revoked = &Revocation{Op: c.Entry.Commit, By: actor.Name, At: at, Reason: b.Reason}
	if err := SeedCuts(st, CutsOf(st, c.Entry)); err != nil {
		return err
	}
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
}
