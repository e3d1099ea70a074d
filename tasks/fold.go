package tasks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/trust"
)

// State is what the fold reads and writes. Task returns nil for an unknown
// id; Actor returns an untrusted empty actor for an unknown key.
type State interface {
	trust.Actors
	Task(id string) (*Task, error)
	PutTask(*Task) error
}

// Apply folds one verified op into state. It returns a *oplog.Rejection for
// an op the fold ignores, and leaves state unchanged then.
func Apply(st State, e *oplog.Entry) error {
	op := e.Op
	if strings.HasPrefix(op.Type, "actor.") || strings.HasPrefix(op.Type, "identity.") {
		return trust.Apply(st, e)
	}
	actor, err := trust.Authorize(st, op)
	if err != nil {
		return err
	}
	who := Ref{Name: actor.Name, Key: actor.KeyID}
	at := op.When()
	if op.Type == OpCreate {
		return applyCreate(st, e, who, at)
	}
	if op.Task == "" {
		return oplog.Reject(oplog.KindInvalidBody, "%s names no task", op.Type)
	}
	t, err := st.Task(op.Task)
	if err != nil {
		return err
	}
	if t == nil {
		return oplog.Reject(oplog.KindNotFound, "no task %s", op.Task)
	}
	ev := Event{Op: e.Commit, Type: op.Type, Actor: who, Time: at, Lamport: op.Lamport, Epoch: op.Epoch}
	switch op.Type {
	case OpClaim:
		var b ClaimBody
		if err := decodeBody(op, &b); err != nil {
			return err
		}
		if b.TTLSeconds <= 0 || b.TTLSeconds > MaxTTLSeconds {
			return oplog.Reject(oplog.KindInvalidBody, "lease ttl %ds out of range (1s to 7 days)", b.TTLSeconds)
		}
		if t.State == StateDone {
			return oplog.Reject(oplog.KindIllegal, "task %s is done", t.ID)
		}
		if t.Lease.ActiveAt(at) && t.Lease.Key != op.Actor {
			return leaseHeld(t)
		}
		if op.Epoch != t.Epoch+1 {
			return oplog.Reject(oplog.KindStaleEpoch, "claim of %s carries epoch %d, next epoch is %d", t.ID, op.Epoch, t.Epoch+1)
		}
		t.Epoch = op.Epoch
		t.Lease = &Lease{Holder: who.Name, Key: who.Key, Epoch: op.Epoch, AcquiredAt: at, ExpiresAt: at.Add(time.Duration(b.TTLSeconds) * time.Second)}
		t.State = StateInProgress
		ev.Summary = fmt.Sprintf("claimed (epoch %d, until %s)", op.Epoch, t.Lease.ExpiresAt.Format(time.RFC3339))
	case OpHandoff:
		var h Handoff
		if err := decodeBody(op, &h); err != nil {
			return err
		}
		if err := h.Check(); err != nil {
			return oplog.Reject(oplog.KindInvalidBody, "%v", err)
		}
		if err := actingOn(t, op, at); err != nil {
			return err
		}
		if t.State == StateDone {
			return oplog.Reject(oplog.KindIllegal, "task %s is done", t.ID)
		}
		h.Op, h.By, h.At = e.Commit, &who, at
		t.Handoff = &h
		t.Handoffs++
		if !h.KeepLease {
			t.Lease = nil
		}
		ev.Summary = h.Summary
	case OpRelease:
		if err := actingOn(t, op, at); err != nil {
			return err
		}
		if !t.Lease.ActiveAt(at) {
			return oplog.Reject(oplog.KindIllegal, "task %s has no active lease to release", t.ID)
		}
		t.Lease = nil
		ev.Summary = "released"
	case OpDone:
		if err := actingOn(t, op, at); err != nil {
			return err
		}
		if t.State == StateDone {
			return oplog.Reject(oplog.KindIllegal, "task %s is already done", t.ID)
		}
		t.State = StateDone
		t.Lease = nil
		ev.Summary = "done"
	default:
		return oplog.Reject(oplog.KindInvalidBody, "unknown op type %s", op.Type)
	}
	t.UpdatedAt = at
	t.History = append(t.History, ev)
	return st.PutTask(t)
}

func applyCreate(st State, e *oplog.Entry, who Ref, at time.Time) error {
	op := e.Op
	var b CreateBody
	if err := decodeBody(op, &b); err != nil {
		return err
	}
	if err := b.Check(); err != nil {
		return oplog.Reject(oplog.KindInvalidBody, "%v", err)
	}
	if want := NewID(op.Actor, op.Seq); op.Task != want {
		return oplog.Reject(oplog.KindInvalidBody, "task.create names id %s, derived id is %s", op.Task, want)
	}
	if old, err := st.Task(op.Task); err != nil {
		return err
	} else if old != nil {
		return oplog.Reject(oplog.KindDuplicate, "task %s exists", op.Task)
	}
	t := &Task{
		ID: op.Task, Title: b.Title, Body: b.Body, Labels: b.Labels, Priority: b.Priority,
		State: StateOpen, CreatedBy: who, CreatedAt: at, UpdatedAt: at, Order: op.Key().String(),
		History: []Event{{Op: e.Commit, Type: op.Type, Actor: who, Time: at, Lamport: op.Lamport, Summary: "created: " + b.Title}},
	}
	return st.PutTask(t)
}

// actingOn checks that an op on a task respects its lease: while a lease is
// active only its holder, under its epoch, may act; an op that claims an
// epoch must carry the current one and come before the lease expired.
func actingOn(t *Task, op *oplog.Op, at time.Time) error {
	if op.Epoch != 0 && op.Epoch != t.Epoch {
		holder := ""
		if t.Lease.ActiveAt(at) {
			holder = ", held by " + t.Lease.Holder
		}
		return oplog.Reject(oplog.KindStaleEpoch, "op on %s carries lease epoch %d, superseded by epoch %d%s", t.ID, op.Epoch, t.Epoch, holder)
	}
	if t.Lease.ActiveAt(at) {
		if t.Lease.Key != op.Actor {
			return leaseHeld(t)
		}
		if op.Epoch != t.Lease.Epoch {
			return oplog.Reject(oplog.KindStaleEpoch, "op on %s carries lease epoch %d, current epoch is %d", t.ID, op.Epoch, t.Lease.Epoch)
		}
		return nil
	}
	if op.Epoch != 0 {
		if op.Epoch != t.Epoch {
			return oplog.Reject(oplog.KindStaleEpoch, "op on %s carries lease epoch %d, current epoch is %d", t.ID, op.Epoch, t.Epoch)
		}
		if t.Lease != nil {
			return oplog.Reject(oplog.KindLeaseExpired, "lease epoch %d on %s expired at %s", op.Epoch, t.ID, t.Lease.ExpiresAt.Format(time.RFC3339))
		}
		return oplog.Reject(oplog.KindLeaseExpired, "lease epoch %d on %s is no longer held", op.Epoch, t.ID)
	}
	return nil
}

func leaseHeld(t *Task) error {
	return oplog.Reject(oplog.KindLeaseHeld, "task %s is leased to %s (epoch %d) until %s", t.ID, t.Lease.Holder, t.Lease.Epoch, t.Lease.ExpiresAt.Format(time.RFC3339))
}

func decodeBody(op *oplog.Op, v any) error {
	dec := json.NewDecoder(bytes.NewReader(op.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return oplog.Reject(oplog.KindInvalidBody, "%s body: %v", op.Type, err)
	}
	return nil
}
