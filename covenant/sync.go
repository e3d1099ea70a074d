package covenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/remote"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// DefaultRemote is the remote sync and setup use when none is named.
const DefaultRemote = "origin"

// git returns a runner for the git binary in this repository.
func (r *Repo) gitRunner() *remote.Git {
	dir := r.Store.WorkTree
	if dir == "" {
		dir = r.Store.GitDir
	}
	return &remote.Git{Dir: dir, Env: r.Store.Env()}
}

// engine returns the sync engine for a remote.
func (r *Repo) engine(name string) (*remote.Engine, error) {
	if err := r.RequireConfig(); err != nil {
		return nil, err
	}
	if err := remote.CheckName(name); err != nil {
		return nil, err
	}
	e := &remote.Engine{Store: r.Store, Git: r.gitRunner(), Remote: name, Source: r.source(), Lock: r.lock,
		OpenIndex: func() (*index.Index, error) { return r.openIndex(false) }, Now: r.Now}
	if id, err := r.Identity(); err == nil {
		e.Me = id.KeyID()
	}
	return e, nil
}

// SetupRemote adds (or with undo removes) the refspecs that make plain
// git fetch and git push carry covenant refs to and from a remote.
func (r *Repo) SetupRemote(name string, undo bool) (*remote.SetupResult, error) {
	if err := r.RequireConfig(); err != nil {
		return nil, err
	}
	if undo {
		return remote.Undo(r.gitRunner(), name)
	}
	return remote.Setup(r.gitRunner(), name)
}

// Sync exchanges feeds and notes with a remote (see remote.Engine.Sync).
func (r *Repo) Sync(name string) (*remote.Report, error) {
	e, err := r.engine(name)
	if err != nil {
		return nil, err
	}
	return e.Sync()
}

// StateDigest returns the digest of the folded state.
func (r *Repo) StateDigest() (*index.Digest, error) {
	ix, done, err := r.Read()
	if err != nil {
		return nil, err
	}
	defer done()
	return ix.StateDigest()
}

// Quarantine lists the feeds whose key signed two histories.
func (r *Repo) Quarantine() ([]remote.QuarantinedFeed, error) {
	if err := r.RequireConfig(); err != nil {
		return nil, err
	}
	qs, err := remote.ListQuarantine(r.Store)
	if err != nil {
		return nil, err
	}
	ix, done, err := r.Read()
	if err != nil {
		return nil, err
	}
	defer done()
	for i := range qs {
		if a, err := ix.Actor(qs[i].Feed); err == nil {
			qs[i].Name = a.Name
		}
	}
	return qs, nil
}

// ErrNotAdmin means resolving a quarantine needs a trust root or the
// identity.admin capability.
var ErrNotAdmin = errors.New("not an admin")

// AcceptVersion resolves a quarantined feed by keeping one of its versions
// (see remote.Accept). Only a trust root or a holder of identity.admin may.
// The accepted head is remembered as verified on this machine, so verify
// does not report the feed as rewritten when the accepted version is not
// the one it saw before.
func (r *Repo) AcceptVersion(key, commit string) (*remote.Accepted, error) {
	if err := r.RequireConfig(); err != nil {
		return nil, err
	}
	h, err := gitstore.ParseHash(commit)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	id, err := r.Identity()
	if err != nil {
		return nil, err
	}
	unlock, err := r.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	ix, err := r.openIndex(false)
	if err != nil {
		return nil, err
	}
	_, err = ix.Update(r.source(), false, func(tx *index.Tx) error {
		me, err := tx.Actor(id.KeyID())
		if err != nil {
			return err
		}
		if !me.Trusted() {
			return fmt.Errorf("%w: identity %s is not trusted here", ErrUntrusted, id.Name)
		}
		if _, err := trust.Find(tx, me, trust.Need{Scope: trust.ScopeIdentityAdmin}, r.Now()); err != nil {
			return fmt.Errorf("%w: %s may not resolve a quarantine (needs a trust root or %s): %v", ErrNotAdmin, id.Name, trust.ScopeIdentityAdmin, err)
		}
		return nil
	})
	ix.Close()
	if err != nil {
		return nil, err
	}
	res, err := remote.Accept(r.Store, r.gitRunner(), key, h)
	if err != nil {
		return nil, err
	}
	seen, err := r.loadVerified()
	if err != nil {
		return nil, err
	}
	if _, ok := seen.Feeds[key]; ok {
		seen.Feeds[key] = h.String()
		if err := r.saveVerified(*seen); err != nil {
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
func (r *Repo) StartTaskVia(idOrPrefix string, ttl time.Duration, name string) (*tasks.Task, error) {
	if err := checkTTL(ttl); err != nil {
		return nil, err
	}
	e, err := r.engine(name)
	if err != nil {
		return nil, err
	}
	id, err := r.ResolveID(idOrPrefix)
	if errors.Is(err, index.ErrNotFound) { // it may exist only on the remote so far
		if _, _, err = e.PullForClaim(""); err != nil {
			return nil, err
		}
		id, err = r.ResolveID(idOrPrefix)
	}
	if err != nil {
		return nil, err
	}
	marker, _, err := e.PullForClaim(id)
	if err != nil {
		return nil, err
	}
	var planTx *index.Tx
	_, err = r.write(func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		planTx = tx
		t, err := tx.Task(id)
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, fmt.Errorf("%w: %s", index.ErrNotFound, id)
		}
		if op, holder, ok := remote.MarkerClaim(r.Store, tx, id, marker); ok && holder.KeyID != me.KeyID && markerLive(t, op, r.Now()) {
			return nil, leasedVia(t.ID, holder, op, name)
		}
		return []Draft{{Type: tasks.OpClaim, Task: id, Epoch: t.Epoch + 1, Body: tasks.ClaimBody{TTLSeconds: int64(ttl / time.Second)}, Summary: t.Title}}, nil
	}, func(_, claim gitstore.Hash) error {
		taken, err := e.PushClaim(id, marker, claim, e.Me)
		if err != nil {
			return err
		}
		if taken.IsZero() {
			return nil
		}
		if op, holder, ok := remote.MarkerClaim(r.Store, planTx, id, taken); ok {
			return fmt.Errorf("%w: %w", ErrLeaseLost, leasedVia(id, holder, op, name))
		}
		return fmt.Errorf("%w: %w", ErrLeaseLost, oplog.Reject(oplog.KindLeaseHeld, "task %s was claimed via %s by another clone first (lease marker %s)", id, name, taken.Short()))
	})
	if err != nil {
		return nil, err
	}
	t, err := r.Task(id)
	if err != nil {
		return nil, err
	}
	return t, r.setCurrent(t)
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
