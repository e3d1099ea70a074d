package covenant

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/trust"
)

// GrantRequest is what `cap grant` asks for.
type GrantRequest struct {
	To        string
	Scopes    []string
	Labels    []string
	Paths     []string
	ExpiresAt *time.Time
	MaxUses   int
	Delegable bool
}

func (g GrantRequest) body(parent string) trust.GrantBody {
	b := trust.GrantBody{To: g.To, Scopes: g.Scopes, Labels: g.Labels, Paths: g.Paths, MaxUses: g.MaxUses, Delegable: g.Delegable, Parent: parent}
	if g.ExpiresAt != nil {
		b.ExpiresAt = g.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return b
}

// parentFor picks, for a non-root granter, a delegable grant it holds that
// covers the request; the fold checks the same again.
func parentFor(tx *index.Tx, me *trust.Actor, req GrantRequest) (string, error) {
	if me.Root {
		return "", nil
	}
	p, err := tx.Principal(me.Name)
	if err != nil || p == nil {
		return "", err
	}
	ids := append([]string(nil), p.Grants...)
	sort.Strings(ids)
	for _, id := range ids {
		g, err := tx.Grant(id)
		if err != nil {
			return "", err
		}
		if g == nil || !g.Delegable || g.Revoked != nil {
			continue
		}
		if subsetOf(req.Scopes, g.Scopes) {
			return g.ID, nil
		}
	}
	return "", oplog.Reject(oplog.KindUnauthorized, "%s is not a trust root and holds no delegable grant covering %s", me.Name, strings.Join(req.Scopes, ", "))
}

func subsetOf(a, b []string) bool {
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}

// GrantCapability writes a cap.grant op and returns the grant; the grant
// body's own Check (scopes, use limit, expiry) runs as the write signs it.
func (s *Service) GrantCapability(ctx context.Context, req GrantRequest) (*trust.Grant, error) {
	w, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		parent, err := parentFor(tx, me, req)
		if err != nil {
			return nil, err
		}
		return []Draft{{Type: trust.OpGrant, Body: req.body(parent), Summary: req.To + ": " + strings.Join(req.Scopes, " ")}}, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return s.grant(ctx, trust.GrantID(w.Entries[0].Op.Actor, w.Entries[0].Op.Seq))
}

func (s *Service) grant(ctx context.Context, id string) (*trust.Grant, error) {
	var g *trust.Grant
	err := s.read(ctx, func(ix *index.Index) (err error) {
		g, err = ix.State().Grant(id)
		return err
	})
	if err == nil && g == nil {
		err = fmt.Errorf("%w: grant %s", ErrNoSuchGrant, id)
	}
	return g, err
}

// ErrNoSuchGrant means no grant has that id.
var ErrNoSuchGrant = errors.New("no such grant")

// RevokeCapability withdraws a grant (and so every grant delegated from it).
func (s *Service) RevokeCapability(ctx context.Context, id, reason string) (*trust.Grant, error) {
	body := trust.RevokeBody{Grant: id, Reason: reason}
	if err := body.Check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	if _, err := s.grant(ctx, id); err != nil {
		return nil, err
	}
	_, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		b := body
		if g, err := tx.Grant(id); err != nil {
			return nil, err
		} else if g != nil {
			if b.Cutoff, err = lastPosition(tx, g.To); err != nil {
				return nil, err
			}
		}
		return []Draft{{Type: trust.OpRevoke, Body: b, Summary: id}}, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return s.grant(ctx, id)
}

// Grants lists grants, optionally only those to one identity.
func (s *Service) Grants(ctx context.Context, to string) ([]*trust.Grant, error) {
	var all []*trust.Grant
	err := s.read(ctx, func(ix *index.Index) (err error) {
		all, err = ix.Grants()
		return err
	})
	if err != nil {
		return nil, err
	}
	out := []*trust.Grant{}
	for _, g := range all {
		if to == "" || g.To == to {
			out = append(out, g)
		}
	}
	return out, nil
}

// Decision is the answer of CheckCapability.
type Decision struct {
	Identity string `json:"identity"`
	Scope    string `json:"scope"`
	Task     string `json:"task,omitempty"`
	Allowed  bool   `json:"allowed"`
	Grant    string `json:"grant,omitempty"`
	Reason   string `json:"reason"`
}

// CheckCapability says whether an identity may use a scope now, on a task.
func (s *Service) CheckCapability(ctx context.Context, name, scope, taskID string) (*Decision, error) {
	if err := trust.CheckScope(scope); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	var d *Decision
	err := s.read(ctx, func(ix *index.Index) (err error) {
		d, err = s.decide(ix, name, scope, taskID)
		return err
	})
	return d, err
}

func (s *Service) decide(ix *index.Index, name, scope, taskID string) (*Decision, error) {
	st := ix.State()
	d := &Decision{Identity: name, Scope: scope}
	p, err := st.Principal(name)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("%w: %s is not an identity of this repository", identity.ErrNotFound, name)
	}
	need := trust.Need{Scope: scope}
	if taskID != "" {
		t, err := ix.Task(taskID)
		if err != nil {
			return nil, err
		}
		d.Task, need.Labels = t.ID, t.Labels
	}
	a, err := st.Actor(p.Key)
	if err != nil {
		return nil, err
	}
	if p.Revoked != nil {
		d.Reason = "identity revoked: " + p.Revoked.Reason
		return d, nil
	}
	g, err := trust.Find(st, a, need, s.now())
	switch rej, isRej := oplog.AsRejection(err); {
	case isRej:
		d.Reason = rej.Reason
	case err != nil:
		return nil, err
	case g == nil:
		d.Allowed, d.Reason = true, name+" is a trust root"
	default:
		d.Allowed, d.Grant = true, g.ID
		d.Reason = fmt.Sprintf("grant %s from %s", g.ID, g.By)
	}
	return d, nil
}

// TrustReport is what `trust show` prints.
type TrustReport struct {
	Roots      []trust.Root       `json:"roots"`
	Identities []*trust.Principal `json:"identities"`
}

// Trust returns the roots and every identity the feeds know.
func (s *Service) Trust(ctx context.Context) (*TrustReport, error) {
	cfg, err := s.requireConfig()
	if err != nil {
		return nil, err
	}
	var ps []*trust.Principal
	err = s.read(ctx, func(ix *index.Index) (err error) {
		ps, err = ix.Principals()
		return err
	})
	if err != nil {
		return nil, err
	}
	return &TrustReport{Roots: cfg.Trust.Roots, Identities: ps}, nil
}

// RevokeIdentity tombstones an identity: its keys' later ops are invalid.
func (s *Service) RevokeIdentity(ctx context.Context, name, reason string) error {
	_, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		cut, err := lastPosition(tx, name)
		if err != nil {
			return nil, err
		}
		return []Draft{{Type: trust.OpRevokeID, Body: trust.RevokeIdentityBody{Name: name, Reason: reason, Cutoff: cut}, Summary: name}}, nil
	}, nil)
	return err
}

// lastPosition is the position of an identity's current key that this
// clone has verified: a revocation, rotation or grant revocation written
// now names it, so that the key's later ops are invalid wherever their
// Lamport clocks sort them. nil for an unknown identity (the fold refuses
// the op then).
func lastPosition(tx *index.Tx, name string) (*trust.Position, error) {
	p, err := tx.Principal(name)
	if err != nil || p == nil {
		return nil, err
	}
	return &trust.Position{Key: p.Key, Seq: tx.Meta.Feeds[p.Key].Seq}, nil
}

// RotateIdentity moves an identity to a new key. With newKey empty the
// acting identity rotates itself: a fresh key is made, the rotation op is
// signed by the old key, then the keystore switches to the new key (the
// old one is kept as key.rotated-<time>). With newKey, an identity admin
// rotates someone else's key.
func (s *Service) RotateIdentity(ctx context.Context, name, newKey string) (string, error) {
	if newKey != "" {
		pub, err := identity.ParsePublicKey(newKey)
		if err != nil {
			return "", err
		}
		_, err = s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
			p, err := tx.Principal(name)
			if err != nil || p == nil {
				return nil, fmt.Errorf("%w: %s", identity.ErrNotFound, name)
			}
			body := trust.IdentityBody{Name: name, Role: p.Role, Key: identity.FormatPublicKey(pub)}
			if p.Key != me.KeyID { // rotating oneself cuts at the rotation op
				body.Cutoff = &trust.Position{Key: p.Key, Seq: tx.Meta.Feeds[p.Key].Seq}
			}
			return []Draft{{Type: trust.OpRotate, Body: body, Summary: name}}, nil
		}, nil)
		return identity.KeyID(pub), err
	}
	id, err := s.Actor("")
	if err != nil {
		return "", err
	}
	if id.Name != name {
		return "", fmt.Errorf("%w: to rotate %s's key yourself, act as %s; an admin passes --key", ErrBadInput, name, name)
	}
	staged, err := s.c.keys.StageRotation(name, s.now())
	if err != nil {
		return "", err
	}
	_, err = s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		return []Draft{{Type: trust.OpRotate, Body: trust.IdentityBody{Name: name, Role: string(id.Role), Key: identity.FormatPublicKey(staged.PublicKey)}, Summary: name}}, nil
	}, nil)
	if err != nil {
		os.RemoveAll(filepath.Dir(staged.Path))
		return "", err
	}
	defer s.forgetActor(name)
	if err := s.c.keys.CommitRotation(name, staged, s.now()); err != nil {
		return "", fmt.Errorf("rotation recorded but the keystore was not switched (new key at %s): %w", staged.Path, err)
	}
	return identity.KeyID(staged.PublicKey), nil
}
