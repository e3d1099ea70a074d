package remote

import (
	"fmt"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/trust"
)

// opClaim is the op type a lease marker must point at.
const opClaim = "task.claim"

// PullForClaim brings the remote's feeds in (verified and applied, as sync
// does, without pushing) together with the task's lease marker, so that a
// strong claim is planned against the remote's state. It returns the
// marker's value, ZeroHash when the remote has none. With task "" it only
// brings the feeds in.
func (e *Engine) PullForClaim(task string) (gitstore.Hash, *SyncReport, error) {
	url, err := e.remoteURL()
	if err != nil {
		return gitstore.ZeroHash, nil, err
	}
	rep := &SyncReport{Remote: e.Remote, URL: url, Attempts: 1}
	var extra []string
	if task != "" {
		extra = append(extra, stageOf(e.Remote).leaseSpec(task))
	}
	p, err := e.pull(rep, extra...)
	if err != nil {
		return gitstore.ZeroHash, nil, err
	}
	e.claimPull = p
	if task == "" {
		return gitstore.ZeroHash, rep, nil
	}
	m, _, err := e.Store.ReadRef(stageOf(e.Remote).lease(task))
	return m, rep, err
}

// MarkerClaim reads the claim a lease marker stands for: a lease intent
// (what strong claims push now) or, from earlier clones, the claim's feed
// commit itself. ok is false when the marker proves nothing: missing
// objects, not a claim of this task, or not signed by a trusted key.
func MarkerClaim(st *gitstore.Store, actors ActorLookup, task string, marker gitstore.Hash) (op *oplog.Op, holder *trust.Actor, ok bool) {
	if marker.IsZero() {
		return nil, nil, false
	}
	var commit *gitstore.Commit
	if in, c := readIntent(st, marker); in != nil {
		op, commit = in.claimOp(), c
	} else {
		fc, err := st.ReadFeedCommit(marker)
		if err != nil || fc.Problem != nil {
			return nil, nil, false
		}
		if op, err = oplog.Decode(fc.Op); err != nil {
			return nil, nil, false
		}
		commit = fc.Commit
	}
	if op.Type != opClaim || op.Task != task {
		return nil, nil, false
	}
	holder, err := actors.Actor(op.Actor)
	if err != nil || !holder.Trusted() || holder.Key == "" {
		return nil, nil, false
	}
	pub, err := identity.ParsePublicKey(holder.Key)
	if err != nil || gitstore.VerifyCommit(commit, pub) != nil {
		return nil, nil, false
	}
	return op, holder, true
}

// PushClaim publishes a strong claim in two steps. First the task's lease
// marker moves to intent (BuildIntent) only if the remote still has
// expected there (git push --force-with-lease, ZeroHash meaning no marker).
// If another claim got there first it returns the marker the remote now
// has, and the claim's feed commit has not left the clone: the caller
// keeps nothing. Once the marker is won, the claimant's feed fast-forwards
// to the claim; published reports whether that push went through (if not,
// the next sync sends it). The caller holds the writer lock.
func (e *Engine) PushClaim(task string, expected, intent, claim gitstore.Hash, feed string) (taken gitstore.Hash, published bool, err error) {
	ref := LeasePrefix + task
	lease := "--force-with-lease=" + ref + ":"
	if !expected.IsZero() {
		lease += expected.String()
	}
	// What this clone already wrote and the remote lacks goes first (as
	// the next sync would send it): the claim's key may be registered only
	// there, by a rotation op in the clone's previous key's feed, and a
	// feed whose key the remote cannot trust yet is refused by every sync.
	pending, err := e.claimPending(feed)
	if err != nil {
		return gitstore.ZeroHash, false, err
	}
	if len(pending) > 0 {
		if _, _, err := e.push(pending, false); err != nil {
			return gitstore.ZeroHash, false, err
		}
	}
	publish := func() bool {
		// Again with the claim, atomically, so it never lands without them.
		updates := append(append([]RefUpdate{}, pending...), RefUpdate{Ref: gitstore.FeedRef(feed), To: claim.String()})
		fout, _, ferr := e.push(updates, true)
		if ferr == nil && fout == pushNoAtoms {
			fout, _, ferr = e.push(updates, false)
		}
		return ferr == nil && fout == pushed
	}
	out, why, err := e.push([]RefUpdate{{Ref: ref, To: intent.String()}}, false, lease)
	if err == nil && out == pushed {
		return gitstore.ZeroHash, publish(), nil
	}
	// Refused, or failed: see whether another claim took the marker.
	if ferr := fetch(e.Store, e.Git, e.Remote, stageOf(e.Remote).leaseSpec(task)); ferr != nil {
		if err != nil {
			return gitstore.ZeroHash, false, err
		}
		return gitstore.ZeroHash, false, ferr
	}
	now, _, rerr := e.Store.ReadRef(stageOf(e.Remote).lease(task))
	if rerr != nil {
		return gitstore.ZeroHash, false, rerr
	}
	if now != expected && now != intent {
		return now, false, nil
	}
	if err != nil {
		return gitstore.ZeroHash, false, err
	}
	if now == intent {
		// The ref moved although the push reported otherwise.
		return gitstore.ZeroHash, publish(), nil
	}
	return gitstore.ZeroHash, false, fmt.Errorf("%w: %s", ErrLeaseMarker, why)
}

// claimPending is the feeds other than the claimant's that this clone
// holds ahead of the remote as PullForClaim saw it (what sync would push,
// notes aside).
func (e *Engine) claimPending(feed string) ([]RefUpdate, error) {
	p := e.claimPull
	if p == nil {
		return nil, nil
	}
	all, err := e.pushSet(p.staged, p.skip, p.broken)
	if err != nil {
		return nil, err
	}
	var out []RefUpdate
	for _, u := range all {
		if u.Ref != NotesRef && u.Ref != gitstore.FeedRef(feed) {
			out = append(out, u)
		}
	}
	return out, nil
}

// ActorLookup finds what the fold knows about a key.
type ActorLookup interface {
	Actor(keyID string) (*trust.Actor, error)
}
