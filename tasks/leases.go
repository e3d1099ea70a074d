package tasks

import (
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/oplog"
)

// actingOn checks that an op on a task respects its lease: while a lease is
// active only its holder, under its epoch, may act; an op that carries an
// epoch must carry the current one and come before that lease ended.
//
// Liveness is judged at the bound that favours nobody (ADR 0010): another
// identity is kept out while the lease is live at the op's time (which
// sync bounds from above: it cannot get in early by dating its op later),
// and the holder acts under it only while it is live at the op's Late time
// (it cannot stay in by dating its op before a time witness that did not
// see it).
func (f *folder) actingOn(t *Task) error {
	op := f.op
	if op.Epoch != 0 && op.Epoch != t.Epoch {
		holder := ""
		if t.Lease.ActiveAt(f.at) {
			holder = ", held by " + t.Lease.Holder
		}
		return oplog.Reject(oplog.KindStaleEpoch, "op on %s carries lease epoch %d, superseded by epoch %d%s", t.ID, op.Epoch, t.Epoch, holder)
	}
	mine := t.Lease.HeldBy(f.who.Name)
	if !mine && t.Lease.ActiveAt(f.at) {
		return leaseHeld(t)
	}
	if mine && t.Lease.ActiveAt(f.late) {
		if op.Epoch != t.Lease.Epoch {
			return oplog.Reject(oplog.KindStaleEpoch, "op on %s by the lease holder carries epoch %d, current epoch is %d", t.ID, op.Epoch, t.Lease.Epoch)
		}
		return nil
	}
	if op.Epoch != 0 {
		if t.Lease != nil {
			return oplog.Reject(oplog.KindLeaseExpired, "lease epoch %d on %s expired at %s%s", op.Epoch, t.ID, t.Lease.ExpiresAt.Format(time.RFC3339), f.witnessed())
		}
		return oplog.Reject(oplog.KindLeaseExpired, "lease epoch %d on %s is no longer held", op.Epoch, t.ID)
	}
	return nil
}

// witnessed explains a decision made at Late rather than the op's own time.
func (f *folder) witnessed() string {
	if f.late.After(f.at) {
		return fmt.Sprintf(" (the op is dated %s, but a time witness signed at %s does not cover it)", f.at.Format(time.RFC3339), f.late.Format(time.RFC3339))
	}
	return ""
}

// epochCurrent refuses an op that carries a superseded epoch, for ops that
// anyone may make (reviews, comments, links).
func (f *folder) epochCurrent(t *Task) error {
	if f.op.Epoch != 0 && f.op.Epoch != t.Epoch {
		return oplog.Reject(oplog.KindStaleEpoch, "op on %s carries lease epoch %d, superseded by epoch %d", t.ID, f.op.Epoch, t.Epoch)
	}
	return nil
}

func leaseHeld(t *Task) error {
	return oplog.Reject(oplog.KindLeaseHeld, "task %s is leased to %s (epoch %d) until %s", t.ID, t.Lease.Holder, t.Lease.Epoch, t.Lease.ExpiresAt.Format(time.RFC3339))
}

// endLease closes the current lease in the lease history.
func (f *folder) endLease(t *Task) {
	if t.Lease == nil {
		return
	}
	for i := range t.Leases {
		if t.Leases[i].Epoch == t.Lease.Epoch && t.Leases[i].EndedAt == nil {
			end := f.at
			if t.Lease.ExpiresAt.Before(end) {
				end = t.Lease.ExpiresAt
			}
			t.Leases[i].EndedAt = &end
		}
	}
	t.Lease = nil
}

// claim folds task.claim: a new lease under the next epoch.
func (f *folder) claim(t *Task, b *ClaimBody) (string, []*Task, error) {
	if err := f.open(t); err != nil {
		return "", nil, err
	}
	if !has(f.wf.ClaimFrom, t.State) {
		return "", nil, oplog.Reject(oplog.KindIllegal, "task %s is %s; tasks can be claimed in %s", t.ID, t.State, strings.Join(f.wf.ClaimFrom, ", "))
	}
	if t.Lease.ActiveAt(f.at) && !t.Lease.HeldBy(f.who.Name) {
		return "", nil, leaseHeld(t)
	}
	if f.op.Epoch != t.Epoch+1 {
		return "", nil, oplog.Reject(oplog.KindStaleEpoch, "claim of %s carries epoch %d, next epoch is %d", t.ID, f.op.Epoch, t.Epoch+1)
	}
	prev := ""
	if t.Lease != nil && !t.Lease.HeldBy(f.who.Name) {
		prev = fmt.Sprintf(", after %s's lease (epoch %d) expired", t.Lease.Holder, t.Lease.Epoch)
	}
	f.endLease(t)
	t.Epoch = f.op.Epoch
	t.Lease = &Lease{Holder: f.who.Name, Key: f.who.Key, Epoch: f.op.Epoch, AcquiredAt: f.at, ExpiresAt: f.at.Add(time.Duration(b.TTLSeconds) * time.Second)}
	t.Leases = append(t.Leases, LeaseRecord{Lease: *t.Lease})
	if !has(t.Implementers, f.who.Name) {
		t.Implementers = append(t.Implementers, f.who.Name)
	}
	if f.before(t.State, f.wf.ClaimTo) {
		t.State = f.wf.ClaimTo
	}
	return fmt.Sprintf("claimed (epoch %d, until %s)%s", f.op.Epoch, t.Lease.ExpiresAt.Format(time.RFC3339), prev), nil, nil
}

// heartbeat folds task.heartbeat: the holder extends its lease.
func (f *folder) heartbeat(t *Task, b *ClaimBody) (string, []*Task, error) {
	if err := f.actingOn(t); err != nil {
		return "", nil, err
	}
	if !t.Lease.ActiveAt(f.late) || f.op.Epoch == 0 {
		return "", nil, oplog.Reject(oplog.KindLeaseExpired, "no active lease on %s to extend%s", t.ID, f.witnessed())
	}
	t.Lease.ExpiresAt = f.at.Add(time.Duration(b.TTLSeconds) * time.Second)
	for i := range t.Leases {
		if t.Leases[i].Epoch == t.Lease.Epoch {
			t.Leases[i].ExpiresAt = t.Lease.ExpiresAt
		}
	}
	return "heartbeat, until " + t.Lease.ExpiresAt.Format(time.RFC3339), nil, nil
}

// release folds task.release: the holder gives its lease back.
func (f *folder) release(t *Task, _ *ReleaseBody) (string, []*Task, error) {
	if err := f.actingOn(t); err != nil {
		return "", nil, err
	}
	if !t.Lease.ActiveAt(f.late) {
		return "", nil, oplog.Reject(oplog.KindIllegal, "task %s has no active lease to release", t.ID)
	}
	f.endLease(t)
	return "released", nil, nil
}
