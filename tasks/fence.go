package tasks

import (
	"fmt"
	"strings"

	"github.com/git-covenant/git-covenant/oplog"
)

// Code commits are fenced against leases by evidence (ADR 0010): the
// signed ops a lease holder made under its lease while it was live name
// the commits it vouches for (a handoff's commits and head, a check's
// head). Each lease record keeps them; a commit they name, or an ancestor
// of one, was made under that lease, whatever its committer date says.
// A commit nothing vouches for is resolved, without rewriting history, by
// a task.accept op of someone who never held the task's lease.

// OpAccept accepts code commits that no lease evidence covers.
const OpAccept = "task.accept"

// maxVouched bounds the commits one lease record keeps.
const maxVouched = 1024

// AcceptBody is the body of task.accept.
type AcceptBody struct {
	Commits []string `json:"commits"`
	Reason  string   `json:"reason"`
}

// Check requires 1 to 100 full commit ids, unique, and a reason.
func (b *AcceptBody) Check() error {
	if len(b.Commits) == 0 || len(b.Commits) > 100 {
		return fmt.Errorf("%w: task.accept names 1 to 100 commits", ErrBadInput)
	}
	seen := map[string]bool{}
	for _, c := range b.Commits {
		if !hexRE.MatchString(c) || seen[c] {
			return fmt.Errorf("%w: commit %q is not a unique full commit id", ErrBadInput, c)
		}
		seen[c] = true
	}
	if strings.TrimSpace(b.Reason) == "" || len(b.Reason) > 16<<10 {
		return fmt.Errorf("%w: task.accept needs a reason (at most 16 KiB)", ErrBadInput)
	}
	return nil
}

// AcceptedCommit is a code commit accepted by a task.accept op.
type AcceptedCommit struct {
	Commit string `json:"commit"`
	By     Ref    `json:"by"`
	Op     string `json:"op"`
	Reason string `json:"reason"`
}

// vouch records commits named by the op being folded as made under its
// lease, when it is the holder's op under the live lease's epoch.
func (f *folder) vouch(t *Task, commits ...string) {
	if f.op.Epoch == 0 || t.Lease == nil || t.Lease.Epoch != f.op.Epoch || !t.Lease.HeldBy(f.who.Name) || !t.Lease.ActiveAt(f.late) {
		return
	}
	for i := range t.Leases {
		r := &t.Leases[i]
		if r.Epoch != f.op.Epoch {
			continue
		}
		for _, c := range commits {
			if c != "" && !has(r.Vouched, c) && len(r.Vouched) < maxVouched {
				r.Vouched = append(r.Vouched, c)
			}
		}
	}
}

// accept folds task.accept: an identity with task.move that never held the
// task's lease (a trust root may) accepts commits nothing else vouches for.
func (f *folder) accept(t *Task, b *AcceptBody) (string, []*Task, error) {
	if has(t.Implementers, f.who.Name) && !f.actor.Root {
		return "", nil, oplog.Reject(oplog.KindNotIndependent, "%s held the lease of %s and may not accept its commits", f.who.Name, t.ID)
	}
	for _, c := range b.Commits {
		t.Accepted = append(t.Accepted, AcceptedCommit{Commit: c, By: f.who, Op: f.e.Commit, Reason: b.Reason})
	}
	return fmt.Sprintf("accepted %d commit(s): %s", len(b.Commits), b.Reason), nil, nil
}

// Vouched returns the commits the lease record of epoch vouches for; the
// caller checks ancestry for the rest.
func (t *Task) Vouched(epoch uint64) []string {
	for _, r := range t.Leases {
		if r.Epoch == epoch {
			return r.Vouched
		}
	}
	return nil
}

// IsAccepted reports whether a task.accept op accepted commit.
func (t *Task) IsAccepted(commit string) *AcceptedCommit {
	for i := range t.Accepted {
		if t.Accepted[i].Commit == commit {
			return &t.Accepted[i]
		}
	}
	return nil
}
