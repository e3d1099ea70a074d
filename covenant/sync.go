package covenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/remote"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// DefaultRemote is the remote sync and setup use when none is named.
const DefaultRemote = "origin"

// gitRunner returns a runner for the git binary in this repository.
func (s *Service) gitRunner() *remote.Git {
	return &remote.Git{Dir: s.gitWorkDir(), Env: s.store().Env()}
}

// engine returns the sync engine for a remote. It takes the session for
// its writes (Lock) and works on the service's open index, which it leaves
// to be caught up again.
func (s *Service) engine(ctx context.Context, name string) (*remote.Engine, error) {
	cfg, err := s.requireConfig()
	if err != nil {
		return nil, err
	}
	if err := remote.CheckName(name); err != nil {
		return nil, err
	}
	c := s.c
	e := &remote.Engine{Store: c.store, Git: s.gitRunner(), Remote: name, Source: c.source(ctx, cfg), Now: c.now,
		Lock: func() (func(), error) {
			if err := c.acquire(ctx); err != nil {
				return nil, err
			}
			return func() { c.folded = nil; c.release() }, nil
		},
		Index: func() (*index.Index, error) { return c.ix, nil },
	}
	if id, err := s.Actor(""); err == nil {
		e.Me = id.KeyID
	}
	return e, nil
}

// SetupRemote adds (or with undo removes) the refspecs that make plain
// git fetch and git push carry covenant refs to and from a remote.
func (s *Service) SetupRemote(ctx context.Context, name string, undo bool) (*remote.SetupResult, error) {
	if _, err := s.requireConfig(); err != nil {
		return nil, err
	}
	if undo {
		return remote.Undo(s.gitRunner(), name)
	}
	return remote.Setup(s.gitRunner(), name)
}

// Remotes returns the names of the repository's git remotes.
func (s *Service) Remotes(ctx context.Context) ([]string, error) {
	return s.gitRunner().Remotes()
}

// Sync exchanges feeds and notes with a remote (see remote.Engine.Sync).
func (s *Service) Sync(ctx context.Context, name string) (*remote.SyncReport, error) {
	e, err := s.engine(ctx, name)
	if err != nil {
		return nil, err
	}
	rep, err := e.Sync()
	if err == nil {
		err = ctx.Err()
	}
	return rep, err
}

// Digest is the digest of the folded state with what it counts.
type Digest = index.Digest

// StateDigest returns the digest of the folded state.
func (s *Service) StateDigest(ctx context.Context) (*Digest, error) {
	var d *Digest
	err := s.read(ctx, func(ix *index.Index) (err error) {
		d, err = ix.StateDigest()
		return err
	})
	return d, err
}

// Quarantine lists the feeds whose key signed two histories.
func (s *Service) Quarantine(ctx context.Context) ([]remote.QuarantinedFeed, error) {
	if _, err := s.requireConfig(); err != nil {
		return nil, err
	}
	qs, err := remote.ListQuarantine(s.store())
	if err != nil {
		return nil, err
	}
	err = s.read(ctx, func(ix *index.Index) error {
		for i := range qs {
			if a, err := ix.Actor(qs[i].Feed); err == nil {
				qs[i].Name = a.Name
			}
		}
		return nil
	})
	return qs, err
}

// ErrNotAdmin means resolving a quarantine needs a trust root or the
// identity.admin capability.
var ErrNotAdmin = errors.New("not an admin")

// AcceptVersion resolves a quarantined feed by keeping one of its versions
// (see remote.Accept). Only a trust root or a holder of identity.admin may.
// The accepted head is remembered as verified on this machine, so verify
// does not report the feed as rewritten when the accepted version is not
// the one it saw before.
func (s *Service) AcceptVersion(ctx context.Context, key, commit string) (*remote.Accepted, error) {
	cfg, err := s.requireConfig()
	if err != nil {
		return nil, err
	}
	h, err := gitstore.ParseHash(commit)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	id, err := s.Actor("")
	if err != nil {
		return nil, err
	}
	c := s.c
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	defer c.release()
	_, err = c.ix.Update(c.source(ctx, cfg), false, func(tx *index.Tx) error {
		me, err := tx.Actor(id.KeyID)
		if err != nil {
			return err
		}
		if !me.Trusted() {
			return fmt.Errorf("%w: identity %s is not trusted here", ErrUntrusted, id.Name)
		}
		if _, err := trust.Find(tx, me, trust.Need{Scope: trust.ScopeIdentityAdmin}, s.now()); err != nil {
			return fmt.Errorf("%w: %s may not resolve a quarantine (needs a trust root or %s): %v", ErrNotAdmin, id.Name, trust.ScopeIdentityAdmin, err)
		}
		return nil
	})
	c.folded = nil
	if err != nil {
		return nil, err
	}
	res, err := remote.Accept(c.store, s.gitRunner(), key, h)
	if err != nil {
		return nil, err
	}
	seen, err := s.loadVerified()
	if err != nil {
		return nil, err
	}
	if _, ok := seen.Feeds[key]; ok {
		seen.Feeds[key] = h.String()
		if err := s.saveVerified(*seen); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// ErrLeaseLost marks a strong claim another clone won; it wraps the
// lease-conflict rejection naming the holder.
var ErrLeaseLost = errors.New("lease taken")

// StartTaskVia claims a task only if an atomic push of its lease marker to
// the remote succeeds against the marker's expected old value, so that two
// clones can never both believe they hold the task. It first brings the
// remote's feeds in (verified) and plans the claim against that state; a
// marker naming someone else's live claim refuses it. If the push loses,
// the claim is not kept: the local feed ref never moves.
func (s *Service) startVia(ctx context.Context, idOrPrefix string, ttl time.Duration, name string) (*tasks.Task, error) {
	e, err := s.engine(ctx, name)
	if err != nil {
		return nil, err
	}
	id, err := s.ResolveID(ctx, idOrPrefix)
	if errors.Is(err, index.ErrNotFound) { // it may exist only on the remote so far
		if _, _, err = e.PullForClaim(""); err != nil {
			return nil, err
		}
		id, err = s.ResolveID(ctx, idOrPrefix)
	}
	if err != nil {
		return nil, err
	}
	marker, _, err := e.PullForClaim(id)
	if err != nil {
		return nil, err
	}
	me, err := s.Actor("")
	if err != nil {
		return nil, err
	}
	var planTx *index.Tx
	w, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		planTx = tx
		t, err := tx.Task(id)
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, fmt.Errorf("%w: %s", index.ErrNotFound, id)
		}
		if op, holder, ok := remote.MarkerClaim(s.store(), tx, id, marker); ok && holder.KeyID != me.KeyID && markerLive(t, op, s.now()) {
			return nil, leasedVia(t.ID, holder, op, name)
		}
		return []Draft{claimDraft(t, ttl)}, nil
	}, func(_, claim gitstore.Hash) error {
		// The marker is a lease intent, not the claim: the claim's feed
		// commit leaves this clone only once the marker is won.
		fc, err := s.store().ReadFeedCommit(claim)
		if err != nil {
			return err
		}
		op, err := oplog.Decode(fc.Op)
		if err != nil {
			return err
		}
		intent, err := remote.BuildIntent(s.store(), claim, op, ledger.Author(me.Name, me.KeyID, op.When()), me.signer)
		if err != nil {
			return err
		}
		taken, published, err := e.PushClaim(id, marker, intent, claim, e.Me)
		if err != nil {
			return err
		}
		if taken.IsZero() && !published {
			s.logf("note: the lease marker is yours; your feed could not be pushed to %s yet (the next sync sends it)", name)
		}
		if taken.IsZero() {
			return nil
		}
		if op, holder, ok := remote.MarkerClaim(s.store(), planTx, id, taken); ok {
			return fmt.Errorf("%w: %w", ErrLeaseLost, leasedVia(id, holder, op, name))
		}
		return fmt.Errorf("%w: %w", ErrLeaseLost, oplog.Reject(oplog.KindLeaseHeld, "task %s was claimed via %s by another clone first (lease marker %s)", id, name, taken.Short()))
	})
	if err != nil {
		return nil, err
	}
	return w.Tasks[0], nil
}

// markerLive reports whether a marker's claim may still hold: the fold
// decides for claims it knows (a live one makes the fold refuse the new
// claim itself); a claim it does not know yet holds until its ttl ends.
func markerLive(t *tasks.Task, op *oplog.Op, now time.Time) bool {
	for _, l := range t.Leases {
		if l.Epoch == op.Epoch && l.Key == op.Actor {
			return false
		}
	}
	var b tasks.ClaimBody
	if err := json.Unmarshal(op.Body, &b); err != nil {
		return false
	}
	return now.Before(op.When().Add(time.Duration(b.TTLSeconds) * time.Second))
}

func leasedVia(task string, holder *trust.Actor, op *oplog.Op, remoteName string) error {
	var b tasks.ClaimBody
	json.Unmarshal(op.Body, &b)
	until := op.When().Add(time.Duration(b.TTLSeconds) * time.Second)
	return oplog.Reject(oplog.KindLeaseHeld, "task %s is leased to %s via %s (epoch %d) until %s", task, holder.Name, remoteName, op.Epoch, until.Format(time.RFC3339))
}
