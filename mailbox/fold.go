package mailbox

import (
	"fmt"
	"time"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// Family is the mailbox op types, folded under policy p (checked).
//
// Authority: sending needs a2a.send.<recipient> or a2a.send; claiming
// needs a2a.receive and being the recipient; responding needs a2a.respond
// and the live lease; requeue and force-error need the live lease or
// a2a.repair, and always the current epoch; acknowledging is the sender's.
// On a message about a task, a label-restricted grant must cover one of
// the task's labels.
func Family(p Policy) fold.Family {
	f := &folder{p: p}
	return fold.Family{Name: "mailbox", Ops: []fold.Op{
		fold.Typed(OpSend, f.send),
		fold.Typed(OpClaim, f.claim),
		fold.Typed(OpRespond, f.respond),
		fold.Typed(OpRequeue, func(c *fold.Ctx, b *RepairBody) error { return f.repair(c, b, false) }),
		fold.Typed(OpError, func(c *fold.Ctx, b *RepairBody) error { return f.repair(c, b, true) }),
		fold.Typed(OpAck, f.ack),
		fold.Typed(OpCancel, f.cancel),
	}}
}

type folder struct{ p Policy }

// state is what the mailbox fold reads: its records, trust, and tasks (for
// the labels of the task a message is about).
type state interface {
	fold.Records
	tasks.State
}

// signer returns the state and the signing actor of an op that names no
// task in its envelope.
func signer(c *fold.Ctx) (state, *trust.Actor, error) {
	if c.Op.Task != "" {
		return nil, nil, oplog.Reject(oplog.KindInvalidBody, "%s names its task in the body, not the envelope", c.Op.Type)
	}
	st, err := fold.As[state](c)
	if err != nil {
		return nil, nil, err
	}
	_, actor, err := trust.Signer(c)
	return st, actor, err
}

// find checks that actor holds one of scopes (tried in order) for a
// message about task, at the op's time bounds.
func find(c *fold.Ctx, st state, actor *trust.Actor, task string, scopes ...string) (*trust.Grant, error) {
	var labels []string
	if task != "" {
		t, err := st.Task(task)
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, oplog.Reject(oplog.KindNotFound, "no task %s", task)
		}
		labels = t.Labels
	}
	var first error
	for _, s := range scopes {
		g, err := trust.FindBounded(st, actor, trust.Need{Scope: s, Labels: labels, Seq: c.Op.Seq}, c.At, c.Late)
		if err == nil {
			return g, nil
		}
		if _, ok := oplog.AsRejection(err); !ok {
			return nil, err
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

func load(st state, id string) (*Message, error) {
	var m Message
	ok, err := st.Record(Kind, id, &m)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, oplog.Reject(oplog.KindNotFound, "no message %s", id)
	}
	return &m, nil
}

func (m *Message) event(c *fold.Ctx, actor *trust.Actor, typ, note string) {
	m.History = append(m.History, Event{Type: typ, By: ref(actor), At: c.At, Op: c.Entry.Commit, Epoch: c.Op.Epoch, Note: note})
}

func ref(a *trust.Actor) tasks.Ref { return tasks.Ref{Name: a.Name, Key: a.KeyID} }

func (f *folder) send(c *fold.Ctx, b *SendBody) error {
	st, actor, err := signer(c)
	if err != nil {
		return err
	}
	if c.Op.Epoch != 0 {
		return oplog.Reject(oplog.KindInvalidBody, "%s carries no lease epoch", c.Op.Type)
	}
	to, err := st.Principal(b.To)
	if err != nil {
		return err
	}
	if to == nil || to.Revoked != nil {
		return oplog.Reject(oplog.KindNotFound, "no live identity %s to send to", b.To)
	}
	g, err := find(c, st, actor, b.Task, trust.ScopeA2ASendTo(b.To), trust.ScopeA2A)
	if err != nil {
		return err
	}
	id := NewID(c.Op.Actor, c.Op.Seq)
	if _, err := load(st, id); err == nil {
		return oplog.Reject(oplog.KindDuplicate, "message %s exists", id)
	} else if _, ok := oplog.AsRejection(err); !ok {
		return err
	}
	if b.IdempotencyKey != "" {
		var first string
		ok, err := st.Record(KindIdem, IdemKey(actor.Name, b.IdempotencyKey), &first)
		if err != nil {
			return err
		}
		if ok {
			return oplog.Reject(oplog.KindDuplicate, "%s already sent idempotency key %q as %s", actor.Name, b.IdempotencyKey, first)
		}
		if err := st.PutRecord(KindIdem, IdemKey(actor.Name, b.IdempotencyKey), id); err != nil {
			return err
		}
	}
	m := &Message{ID: id, From: ref(actor), To: b.To, Kind: b.Kind, Body: b.Body, Task: b.Task,
		Deadline: b.deadline, IdempotencyKey: b.IdempotencyKey, SentAt: c.At, Op: c.Entry.Commit, State: Queued}
	m.event(c, actor, "send", "")
	if err := st.PutRecord(Kind, id, m); err != nil {
		return err
	}
	return trust.Use(st, g)
}

// claim folds a2a.claim: the recipient takes the message under the next
// epoch. A queued message may be claimed, and an in-flight one whose lease
// expired, once the lease is MinLeaseAge old, while it has attempts left.
// Another's lease keeps the recipient out while live at the op's time
// (sync bounds that from above); the deadline and the attempts are judged
// at the op's Late time (it cannot get in by dating its op early).
func (f *folder) claim(c *fold.Ctx, b *ClaimBody) error {
	st, actor, err := signer(c)
	if err != nil {
		return err
	}
	m, err := load(st, b.Message)
	if err != nil {
		return err
	}
	if actor.Name != m.To {
		return oplog.Reject(oplog.KindUnauthorized, "message %s is to %s, not %s", m.ID, m.To, actor.Name)
	}
	g, err := find(c, st, actor, m.Task, trust.ScopeA2AReceive)
	if err != nil {
		return err
	}
	switch m.State {
	case Queued:
	case InFlight:
		if m.Lease.ActiveAt(c.At) && !m.Lease.HeldBy(actor.Name) {
			return leaseHeld(m)
		}
		if !m.Lease.ActiveAt(c.At) && c.At.Before(m.Lease.AcquiredAt.Add(f.p.MinLeaseAge())) {
			return oplog.Reject(oplog.KindLeaseHeld, "message %s: lease epoch %d expired but is retried only from %s (min_lease_age)", m.ID, m.Epoch, m.Lease.AcquiredAt.Add(f.p.MinLeaseAge()).Format(time.RFC3339))
		}
	default:
		return oplog.Reject(oplog.KindIllegal, "message %s is %s; only queued or expired in-flight messages can be claimed", m.ID, m.State)
	}
	if c.Op.Epoch != m.Epoch+1 {
		return oplog.Reject(oplog.KindStaleEpoch, "claim of %s carries epoch %d, next epoch is %d", m.ID, c.Op.Epoch, m.Epoch+1)
	}
	if m.Deadline != nil && !c.Late.Before(*m.Deadline) {
		return oplog.Reject(oplog.KindIllegal, "message %s is past its deadline %s", m.ID, m.Deadline.Format(time.RFC3339))
	}
	if m.Attempts >= f.p.MaxAttempts {
		return oplog.Reject(oplog.KindIllegal, "message %s has used its %d attempts", m.ID, f.p.MaxAttempts)
	}
	note := ""
	if m.State == InFlight {
		note = fmt.Sprintf("retry after %s's lease (epoch %d) expired", m.Lease.Holder, m.Epoch)
		m.event(c, actor, "expired", fmt.Sprintf("lease epoch %d expired at %s", m.Epoch, m.Lease.ExpiresAt.Format(time.RFC3339)))
	}
	exp := c.At.Add(time.Duration(b.TTLSeconds) * time.Second)
	if m.Deadline != nil && m.Deadline.Before(exp) {
		exp = *m.Deadline
	}
	m.Epoch = c.Op.Epoch
	m.Lease = &tasks.Lease{Holder: actor.Name, Key: actor.KeyID, Epoch: m.Epoch, AcquiredAt: c.At, ExpiresAt: exp}
	m.Attempts++
	m.State = InFlight
	m.event(c, actor, "claim", note)
	if err := st.PutRecord(Kind, m.ID, m); err != nil {
		return err
	}
	return trust.Use(st, g)
}

func leaseHeld(m *Message) error {
	return oplog.Reject(oplog.KindLeaseHeld, "message %s is leased to %s (epoch %d) until %s", m.ID, m.Lease.Holder, m.Lease.Epoch, m.Lease.ExpiresAt.Format(time.RFC3339))
}

// underLease checks that the op is the holder's, under the current epoch,
// while the lease is live at the op's Late time.
func underLease(c *fold.Ctx, m *Message, actor *trust.Actor) error {
	if c.Op.Epoch != m.Epoch || m.Epoch == 0 {
		return oplog.Reject(oplog.KindStaleEpoch, "op on %s carries lease epoch %d, the current epoch is %d", m.ID, c.Op.Epoch, m.Epoch)
	}
	if m.State != InFlight || !m.Lease.HeldBy(actor.Name) {
		holder := "no one"
		if m.Lease != nil {
			holder = m.Lease.Holder
		}
		return oplog.Reject(oplog.KindLeaseHeld, "message %s is %s; its lease (epoch %d) is held by %s, not %s", m.ID, m.State, m.Epoch, holder, actor.Name)
	}
	if !m.Lease.ActiveAt(c.Late) {
		witnessed := ""
		if c.Late.After(c.At) {
			witnessed = fmt.Sprintf(" (the op is dated %s, but a time witness signed at %s does not cover it)", c.At.Format(time.RFC3339), c.Late.Format(time.RFC3339))
		}
		return oplog.Reject(oplog.KindLeaseExpired, "lease epoch %d on %s expired at %s%s", m.Epoch, m.ID, m.Lease.ExpiresAt.Format(time.RFC3339), witnessed)
	}
	return nil
}

// respond folds a2a.respond: the holder records the result under its live
// lease; the message waits for the sender's acknowledgement.
func (f *folder) respond(c *fold.Ctx, b *RespondBody) error {
	st, actor, err := signer(c)
	if err != nil {
		return err
	}
	m, err := load(st, b.Message)
	if err != nil {
		return err
	}
	if err := underLease(c, m, actor); err != nil {
		return err
	}
	g, err := find(c, st, actor, m.Task, trust.ScopeA2ARespond)
	if err != nil {
		return err
	}
	m.endLease(c.At)
	m.State = ResultPending
	m.Result = &Outcome{Text: b.Result, By: ref(actor), At: c.At, Op: c.Entry.Commit, Epoch: c.Op.Epoch}
	m.event(c, actor, "respond", "")
	if err := st.PutRecord(Kind, m.ID, m); err != nil {
		return err
	}
	return trust.Use(st, g)
}

// endLease closes the lease at at (or its expiry, if earlier).
func (m *Message) endLease(at time.Time) {
	if m.Lease != nil && at.Before(m.Lease.ExpiresAt) {
		m.Lease.ExpiresAt = at
	}
}

// repair folds a2a.requeue (fail false) and a2a.error (fail true). Either
// names the current lease by its epoch, whoever makes it: the live lease's
// holder, or an identity with a2a.repair. A requeue puts the message back
// in the queue with its attempts counted afresh, at most MaxRequeues
// times; a force-error fails it.
func (f *folder) repair(c *fold.Ctx, b *RepairBody, fail bool) error {
	st, actor, err := signer(c)
	if err != nil {
		return err
	}
	m, err := load(st, b.Message)
	if err != nil {
		return err
	}
	if c.Op.Epoch == 0 || c.Op.Epoch != m.Epoch {
		return oplog.Reject(oplog.KindStaleEpoch, "%s of %s names lease epoch %d, the current lease is epoch %d", c.Op.Type, m.ID, c.Op.Epoch, m.Epoch)
	}
	switch {
	case m.State == InFlight:
	case m.State == Queued && fail:
	default:
		return oplog.Reject(oplog.KindIllegal, "message %s is %s; %s applies to in-flight messages", m.ID, m.State, c.Op.Type)
	}
	var g *trust.Grant
	if m.State != InFlight || underLease(c, m, actor) != nil {
		if g, err = find(c, st, actor, m.Task, trust.ScopeA2ARepair); err != nil {
			return err
		}
	}
	m.endLease(c.At)
	if fail {
		m.State = Failed
		m.Error = &Outcome{Text: b.Reason, By: ref(actor), At: c.At, Op: c.Entry.Commit, Epoch: c.Op.Epoch}
		m.event(c, actor, "error", b.Reason)
	} else {
		if m.Requeues >= f.p.MaxRequeues {
			return oplog.Reject(oplog.KindIllegal, "message %s was requeued %d times, the most the policy allows", m.ID, m.Requeues)
		}
		m.State = Queued
		m.Requeues++
		m.Attempts = 0
		m.event(c, actor, "requeue", b.Reason)
	}
	if err := st.PutRecord(Kind, m.ID, m); err != nil {
		return err
	}
	if g == nil {
		return nil
	}
	return trust.Use(st, g)
}

// ack folds a2a.ack: the sender accepts the result.
func (f *folder) ack(c *fold.Ctx, b *AckBody) error {
	st, actor, err := signer(c)
	if err != nil {
		return err
	}
	m, err := load(st, b.Message)
	if err != nil {
		return err
	}
	if actor.Name != m.From.Name {
		return oplog.Reject(oplog.KindUnauthorized, "only %s, who sent %s, may acknowledge its result", m.From.Name, m.ID)
	}
	if m.State != ResultPending {
		return oplog.Reject(oplog.KindIllegal, "message %s is %s; only a pending result can be acknowledged", m.ID, m.State)
	}
	m.State = Resolved
	m.event(c, actor, "ack", "")
	return st.PutRecord(Kind, m.ID, m)
}

// cancel folds a2a.cancel: the sender withdraws a message that is queued
// or in flight (its lease ends; the holder's answer is then refused). It
// becomes failed, marked cancelled, with the reason as its error.
func (f *folder) cancel(c *fold.Ctx, b *CancelBody) error {
	st, actor, err := signer(c)
	if err != nil {
		return err
	}
	m, err := load(st, b.Message)
	if err != nil {
		return err
	}
	if actor.Name != m.From.Name {
		return oplog.Reject(oplog.KindUnauthorized, "only %s, who sent %s, may cancel it", m.From.Name, m.ID)
	}
	if m.State != Queued && m.State != InFlight {
		return oplog.Reject(oplog.KindIllegal, "message %s is %s; only a queued or in-flight message can be cancelled", m.ID, m.State)
	}
	m.endLease(c.At)
	m.State, m.Cancelled = Failed, true
	m.Error = &Outcome{Text: b.Reason, By: ref(actor), At: c.At, Op: c.Entry.Commit}
	m.event(c, actor, "cancel", b.Reason)
	return st.PutRecord(Kind, m.ID, m)
}
