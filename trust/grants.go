package trust

import (
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
)

// GrantBody is the body of cap.grant.
type GrantBody struct {
	To        string   `json:"to"`
	Scopes    []string `json:"scopes"`
	Labels    []string `json:"labels,omitempty"`
	Paths     []string `json:"paths,omitempty"`
	ExpiresAt string   `json:"expires_at,omitempty"` // RFC 3339
	MaxUses   int      `json:"max_uses,omitempty"`
	Delegable bool     `json:"delegable,omitempty"`
	Parent    string   `json:"parent,omitempty"`

	expires *time.Time // ExpiresAt parsed by Check
}

// Check validates scopes, the use limit and the expiry.
func (b *GrantBody) Check() error {
	if len(b.Scopes) == 0 {
		return fmt.Errorf("a grant needs at least one scope")
	}
	for _, s := range b.Scopes {
		if err := CheckScope(s); err != nil {
			return err
		}
	}
	if b.MaxUses < 0 {
		return fmt.Errorf("max uses must not be negative")
	}
	b.expires = nil
	if b.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, b.ExpiresAt)
		if err != nil {
			return fmt.Errorf("expires_at %q is not an RFC 3339 time", b.ExpiresAt)
		}
		t = t.UTC()
		b.expires = &t
	}
	return nil
}

// RevokeBody is the body of cap.revoke.
type RevokeBody struct {
	Grant  string `json:"grant"`
	Reason string `json:"reason"`
	// Cutoff (version 2) is the grantee's key's last accepted position:
	// its ops after it may not use the grant, wherever they sort.
	Cutoff *Position `json:"cutoff,omitempty"`
}

// Check requires a grant and a reason.
func (b *RevokeBody) Check() error {
	if b.Grant == "" {
		return fmt.Errorf("a revocation names a grant")
	}
	if strings.TrimSpace(b.Reason) == "" {
		return fmt.Errorf("a revocation needs a reason")
	}
	return nil
}

// applyGrant records a grant by a trust root, or a delegation within a
// delegable grant the granter holds.
func applyGrant(st State, actor *Actor, c *fold.Ctx, b *GrantBody) error {
	op := c.Op
	exp := b.expires
	to, err := st.Principal(b.To)
	if err != nil {
		return err
	}
	if to == nil || to.Revoked != nil {
		return oplog.Reject(oplog.KindNotFound, "no live identity %s to grant to", b.To)
	}
	if !actor.Root {
		if err := checkDelegation(st, actor, c, b); err != nil {
			return err
		}
	} else if b.Parent != "" {
		return oplog.Reject(oplog.KindInvalidBody, "a trust root grants directly, without a parent")
	}
	labels, paths := b.Labels, b.Paths
	if labels == nil {
		labels = []string{}
	}
	if paths == nil {
		paths = []string{}
	}
	g := &Grant{ID: GrantID(op.Actor, op.Seq), To: b.To, Scopes: b.Scopes, Labels: labels, Paths: paths, ExpiresAt: exp,
		MaxUses: b.MaxUses, Delegable: b.Delegable, Parent: b.Parent, By: actor.Name, ByKey: actor.KeyID, At: c.At, Op: c.Entry.Commit}
	if old, err := st.Grant(g.ID); err != nil {
		return err
	} else if old != nil {
		return oplog.Reject(oplog.KindDuplicate, "grant %s exists", g.ID)
	}
	to.Grants = append(to.Grants, g.ID)
	if err := st.PutPrincipal(to); err != nil {
		return err
	}
	return st.PutGrant(g)
}

// checkDelegation checks that a non-root's grant stays within the
// delegable grant it names.
func checkDelegation(st State, actor *Actor, c *fold.Ctx, b *GrantBody) error {
	exp := b.expires
	if b.Parent == "" {
		return oplog.Reject(oplog.KindUnauthorized, "%s is not a trust root; only a delegable grant lets it grant", actor.Name)
	}
	if b.To == actor.Name {
		return oplog.Reject(oplog.KindUnauthorized, "%s cannot delegate grant %s to itself", actor.Name, b.Parent)
	}
	parent, err := st.Grant(b.Parent)
	if err != nil {
		return err
	}
	switch {
	case parent == nil:
		return oplog.Reject(oplog.KindUnauthorized, "delegation from unknown grant %s", b.Parent)
	case parent.To != actor.Name:
		return oplog.Reject(oplog.KindUnauthorized, "delegation from grant %s, which was given to %s, not %s", parent.ID, parent.To, actor.Name)
	case !parent.Delegable:
		return oplog.Reject(oplog.KindUnauthorized, "grant %s is not delegable", parent.ID)
	case !subset(b.Scopes, parent.Scopes):
		return oplog.Reject(oplog.KindUnauthorized, "delegated scopes %s exceed grant %s (%s)", strings.Join(b.Scopes, ", "), parent.ID, strings.Join(parent.Scopes, ", "))
	case len(parent.Labels) > 0 && (len(b.Labels) == 0 || !subset(b.Labels, parent.Labels)):
		return oplog.Reject(oplog.KindUnauthorized, "delegated labels must be within %s of grant %s", strings.Join(parent.Labels, ", "), parent.ID)
	case len(parent.Paths) > 0 && (len(b.Paths) == 0 || !subset(b.Paths, parent.Paths)):
		return oplog.Reject(oplog.KindUnauthorized, "delegated paths must be within %s of grant %s", strings.Join(parent.Paths, ", "), parent.ID)
	case parent.ExpiresAt != nil && (exp == nil || exp.After(*parent.ExpiresAt)):
		return oplog.Reject(oplog.KindUnauthorized, "a delegated grant must expire by %s, when grant %s does", parent.ExpiresAt.Format(time.RFC3339), parent.ID)
	case parent.MaxUses > 0 && (b.MaxUses == 0 || b.MaxUses > parent.MaxUses):
		return oplog.Reject(oplog.KindUnauthorized, "a delegated grant may be used at most %d times, as grant %s", parent.MaxUses, parent.ID)
	}
	if reason, err := valid(st, parent, c.Late, true); err != nil {
		return err
	} else if reason != "" {
		return oplog.Reject(oplog.KindUnauthorized, "cannot delegate: %s", reason)
	}
	return nil
}

// applyRevoke withdraws a grant, and with it every grant delegated from it.
func applyRevoke(st State, actor *Actor, c *fold.Ctx, b *RevokeBody) error {
	g, err := st.Grant(b.Grant)
	if err != nil {
		return err
	}
	if g == nil {
		return oplog.Reject(oplog.KindNotFound, "no grant %s", b.Grant)
	}
	if g.Revoked != nil {
		return oplog.Reject(oplog.KindDuplicate, "grant %s is already revoked", g.ID)
	}
	allowed := actor.Root || g.By == actor.Name
	for p := g; !allowed && p != nil && p.Parent != ""; {
		if p, err = st.Grant(p.Parent); err != nil {
			return err
		}
		allowed = p != nil && p.To == actor.Name
	}
	if !allowed {
		if _, err := FindBounded(st, actor, Need{Scope: ScopeIdentityAdmin, Seq: c.Op.Seq}, c.At, c.Late); err != nil {
			return oplog.Reject(oplog.KindUnauthorized, "only the granter, a holder up its delegation chain, a trust root or an identity admin may revoke grant %s", g.ID)
		}
	}
	if to, err := st.Principal(g.To); err != nil {
		return err
	} else if to != nil {
		if err := cutoff(c.Op, b.Cutoff, to.Keys); err != nil {
			return err
		}
	}
	g.Revoked = &Revocation{Op: c.Entry.Commit, By: actor.Name, At: c.At, Reason: b.Reason}
	if err := SeedCuts(st, CutsOf(st, c.Entry)); err != nil {
		return err
	}
	return st.PutGrant(g)
}
