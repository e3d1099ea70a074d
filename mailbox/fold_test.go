package mailbox_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/mailbox"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

const (
	alice = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" // root
	bob   = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" // sends to carol only
	carol = "cccccccccccccccccccccccccccccccc" // receives and responds
	dave  = "dddddddddddddddddddddddddddddddd" // repairs
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func policy(t *testing.T) mailbox.Policy {
	p := mailbox.Policy{MinLeaseAgeText: "10m", MaxAttempts: 2, MaxRequeues: 1}
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	return p
}

type world struct {
	t   *testing.T
	reg *fold.Registry
	st  *tasks.MemState
	seq map[string]uint64
	lam uint64
	now time.Time
}

func newWorld(t *testing.T) *world {
	st := tasks.NewMemState()
	st.PutActor(&trust.Actor{KeyID: alice, Name: "alice", Role: "human", Root: true})
	st.PutPrincipal(&trust.Principal{Name: "alice", Root: true, Key: alice, Keys: []string{alice}})
	for _, a := range []struct {
		key, name string
		scopes    []string
	}{
		{bob, "bob", []string{trust.ScopeA2ASendTo("carol")}},
		{carol, "carol", []string{trust.ScopeA2AReceive, trust.ScopeA2ARespond}},
		{dave, "dave", []string{trust.ScopeA2ARepair, trust.ScopeA2AReceive}},
	} {
		st.PutActor(&trust.Actor{KeyID: a.key, Name: a.name, Role: "agent", RegisteredBy: alice})
		st.PutPrincipal(&trust.Principal{Name: a.name, Role: "agent", Key: a.key, Keys: []string{a.key}, Grants: []string{"cap-" + a.name}})
		st.PutGrant(&trust.Grant{ID: "cap-" + a.name, To: a.name, By: "alice", Scopes: a.scopes})
	}
	reg := fold.MustNew([]fold.Guard{trust.Admit}, trust.Family(), tasks.Family(tasks.DefaultWorkflow()), mailbox.Family(policy(t)))
	return &world{t: t, reg: reg, st: st, seq: map[string]uint64{}, now: t0}
}

// apply folds one op at the world's clock and returns its rejection kind
// ("" if applied) and its seq.
func (w *world) apply(actor, typ string, epoch uint64, body any) (string, uint64) {
	w.t.Helper()
	w.seq[actor]++
	w.lam++
	op := &oplog.Op{V: 1, Type: typ, Actor: actor, Seq: w.seq[actor], Lamport: w.lam, Time: oplog.FormatTime(w.now), Epoch: epoch}
	op.Body, _ = json.Marshal(body)
	err := w.reg.Apply(w.st, &oplog.Entry{Op: op, Commit: "c" + typ, Feed: actor})
	if err == nil {
		return "", op.Seq
	}
	r, ok := oplog.AsRejection(err)
	if !ok {
		w.t.Fatalf("non-rejection error: %v", err)
	}
	return r.Kind, op.Seq
}

func (w *world) must(actor, typ string, epoch uint64, body any) uint64 {
	w.t.Helper()
	k, seq := w.apply(actor, typ, epoch, body)
	if k != "" {
		w.t.Fatalf("%s by %s: %s", typ, actor[:1], k)
	}
	return seq
}

func (w *world) msg(id string) *mailbox.Message {
	w.t.Helper()
	var m mailbox.Message
	ok, err := w.st.Record(mailbox.Kind, id, &m)
	if err != nil || !ok {
		w.t.Fatalf("message %s: %v %v", id, ok, err)
	}
	return &m
}

func (w *world) send(key string) string {
	w.t.Helper()
	seq := w.must(bob, mailbox.OpSend, 0, mailbox.SendBody{To: "carol", Kind: "review", Body: "look at this", IdempotencyKey: key})
	return mailbox.NewID(bob, seq)
}

func claim(id string) mailbox.ClaimBody { return mailbox.ClaimBody{Message: id, TTLSeconds: 60} }

func TestLifecycle(t *testing.T) {
	w := newWorld(t)
	id := w.send("")
	if m := w.msg(id); m.State != mailbox.Queued || m.From.Name != "bob" || m.To != "carol" {
		t.Fatalf("sent: %+v", m)
	}
	// Only the recipient claims, under the next epoch.
	if k, _ := w.apply(dave, mailbox.OpClaim, 1, claim(id)); k != oplog.KindUnauthorized {
		t.Errorf("claim by another identity: %q", k)
	}
	if k, _ := w.apply(carol, mailbox.OpClaim, 2, claim(id)); k != oplog.KindStaleEpoch {
		t.Errorf("claim skipping an epoch: %q", k)
	}
	w.must(carol, mailbox.OpClaim, 1, claim(id))
	m := w.msg(id)
	if m.State != mailbox.InFlight || m.Attempts != 1 || m.Lease.Holder != "carol" || m.Epoch != 1 {
		t.Fatalf("claimed: %+v", m)
	}
	// Responding needs the lease and its epoch.
	if k, _ := w.apply(dave, mailbox.OpRespond, 1, mailbox.RespondBody{Message: id, Result: "forged"}); k != oplog.KindLeaseHeld {
		t.Errorf("respond by a non-holder: %q", k)
	}
	if k, _ := w.apply(carol, mailbox.OpRespond, 0, mailbox.RespondBody{Message: id, Result: "x"}); k != oplog.KindStaleEpoch {
		t.Errorf("respond without the epoch: %q", k)
	}
	w.must(carol, mailbox.OpRespond, 1, mailbox.RespondBody{Message: id, Result: "looks good"})
	if m := w.msg(id); m.State != mailbox.ResultPending || m.Result.Text != "looks good" {
		t.Fatalf("responded: %+v", m)
	}
	if k, _ := w.apply(carol, mailbox.OpAck, 0, mailbox.AckBody{Message: id}); k != oplog.KindUnauthorized {
		t.Errorf("ack by the recipient: %q", k)
	}
	w.must(bob, mailbox.OpAck, 0, mailbox.AckBody{Message: id})
	if m := w.msg(id); m.State != mailbox.Resolved || len(m.History) != 4 {
		t.Fatalf("acknowledged: %+v", m)
	}
}

// Requeue and force-error name the current lease: a stale epoch is
// refused, from the holder and from a repairer alike.
func TestRepairNamesTheCurrentLease(t *testing.T) {
	w := newWorld(t)
	id := w.send("")
	w.must(carol, mailbox.OpClaim, 1, claim(id))
	w.now = t0.Add(11 * time.Minute) // expired and past min_lease_age
	w.must(carol, mailbox.OpClaim, 2, claim(id))
	for _, typ := range []string{mailbox.OpRequeue, mailbox.OpError} {
		for _, who := range []string{carol, dave} {
			if k, _ := w.apply(who, typ, 1, mailbox.RepairBody{Message: id, Reason: "stuck"}); k != oplog.KindStaleEpoch {
				t.Errorf("%s by %s naming the stale epoch 1: %q", typ, who[:1], k)
			}
			if k, _ := w.apply(who, typ, 0, mailbox.RepairBody{Message: id, Reason: "stuck"}); k != oplog.KindStaleEpoch {
				t.Errorf("%s by %s naming no epoch: %q", typ, who[:1], k)
			}
		}
		if k, _ := w.apply(bob, typ, 2, mailbox.RepairBody{Message: id, Reason: "stuck"}); k != oplog.KindUnauthorized {
			t.Errorf("%s by bob, neither holder nor repairer: %q", typ, k)
		}
	}
	if m := w.msg(id); m.State != mailbox.InFlight || m.Epoch != 2 {
		t.Fatalf("refused repairs changed the message: %+v", m)
	}
	// The current epoch: a repairer requeues (attempts start again), once.
	w.must(dave, mailbox.OpRequeue, 2, mailbox.RepairBody{Message: id, Reason: "carol is stuck"})
	if m := w.msg(id); m.State != mailbox.Queued || m.Attempts != 0 || m.Requeues != 1 {
		t.Fatalf("requeued: %+v", m)
	}
	w.must(carol, mailbox.OpClaim, 3, claim(id))
	if k, _ := w.apply(carol, mailbox.OpRequeue, 3, mailbox.RepairBody{Message: id, Reason: "again"}); k != oplog.KindIllegal {
		t.Errorf("a requeue past max_requeues: %q", k)
	}
	// The holder fails its own message under its live lease.
	w.must(carol, mailbox.OpError, 3, mailbox.RepairBody{Message: id, Reason: "cannot do it"})
	if m := w.msg(id); m.State != mailbox.Failed || m.Error.Text != "cannot do it" {
		t.Fatalf("force-error: %+v", m)
	}
	if k, _ := w.apply(carol, mailbox.OpRespond, 3, mailbox.RespondBody{Message: id, Result: "late"}); k != oplog.KindLeaseHeld {
		t.Errorf("respond after a force-error: %q", k)
	}
}

// An expired in-flight message is retried per the policy (not before
// min_lease_age) and failed when its attempts are used.
func TestExpiryRetriesThenFails(t *testing.T) {
	w := newWorld(t)
	p := policy(t)
	id := w.send("")
	w.must(carol, mailbox.OpClaim, 1, claim(id))
	// Expired (ttl 60s) but not min_lease_age (10m) old: not yet retried.
	w.now = t0.Add(2 * time.Minute)
	if s := w.msg(id).StatusAt(w.now, p); s.State != mailbox.InFlight || s.Claimable {
		t.Errorf("status before min_lease_age: %+v", s)
	}
	if k, _ := w.apply(carol, mailbox.OpClaim, 2, claim(id)); k != oplog.KindLeaseHeld {
		t.Errorf("retry before min_lease_age: %q", k)
	}
	// The expired holder may no longer respond.
	if k, _ := w.apply(carol, mailbox.OpRespond, 1, mailbox.RespondBody{Message: id, Result: "late"}); k != oplog.KindLeaseExpired {
		t.Errorf("respond under an expired lease: %q", k)
	}
	w.now = t0.Add(10 * time.Minute)
	if s := w.msg(id).StatusAt(w.now, p); s.State != mailbox.Queued || !s.Claimable {
		t.Errorf("status once retried: %+v", s)
	}
	w.must(carol, mailbox.OpClaim, 2, claim(id))
	if m := w.msg(id); m.Attempts != 2 {
		t.Fatalf("attempts: %d", m.Attempts)
	}
	w.now = t0.Add(30 * time.Minute)
	if s := w.msg(id).StatusAt(w.now, p); s.State != mailbox.Failed || s.Claimable {
		t.Errorf("status after the last attempt expired: %+v", s)
	}
	if k, _ := w.apply(carol, mailbox.OpClaim, 3, claim(id)); k != oplog.KindIllegal {
		t.Errorf("a claim past max_attempts: %q", k)
	}
}

func TestSendRules(t *testing.T) {
	w := newWorld(t)
	// Per-peer scope: bob may send to carol, not to dave.
	if k, _ := w.apply(bob, mailbox.OpSend, 0, mailbox.SendBody{To: "dave", Kind: "x", Body: "y"}); k != oplog.KindUnauthorized {
		t.Errorf("send outside the per-peer scope: %q", k)
	}
	if k, _ := w.apply(carol, mailbox.OpSend, 0, mailbox.SendBody{To: "bob", Kind: "x", Body: "y"}); k != oplog.KindUnauthorized {
		t.Errorf("send without a2a.send: %q", k)
	}
	if k, _ := w.apply(alice, mailbox.OpSend, 0, mailbox.SendBody{To: "nobody", Kind: "x", Body: "y"}); k != oplog.KindNotFound {
		t.Errorf("send to an unknown identity: %q", k)
	}
	for name, body := range map[string]any{
		"bad kind":      mailbox.SendBody{To: "carol", Kind: "Has Space", Body: "y"},
		"empty body":    mailbox.SendBody{To: "carol", Kind: "x", Body: " "},
		"bad deadline":  mailbox.SendBody{To: "carol", Kind: "x", Body: "y", Deadline: "tomorrow"},
		"bad task":      mailbox.SendBody{To: "carol", Kind: "x", Body: "y", Task: "t1"},
		"bad key":       mailbox.SendBody{To: "carol", Kind: "x", Body: "y", IdempotencyKey: "a b"},
		"unknown field": map[string]any{"to": "carol", "kind": "x", "body": "y", "priority": 1},
	} {
		if k, _ := w.apply(bob, mailbox.OpSend, 0, body); k != oplog.KindInvalidBody {
			t.Errorf("%s: %q", name, k)
		}
	}
	// A duplicate idempotency key from the same sender is refused; the
	// first message stands. Another sender's same key is its own.
	first := w.send("k1")
	if k, _ := w.apply(bob, mailbox.OpSend, 0, mailbox.SendBody{To: "carol", Kind: "review", Body: "again", IdempotencyKey: "k1"}); k != oplog.KindDuplicate {
		t.Errorf("duplicate idempotency key: %q", k)
	}
	var got string
	if ok, _ := w.st.Record(mailbox.KindIdem, mailbox.IdemKey("bob", "k1"), &got); !ok || got != first {
		t.Errorf("idempotency record: %q, want %q", got, first)
	}
	w.must(alice, mailbox.OpSend, 0, mailbox.SendBody{To: "carol", Kind: "review", Body: "mine", IdempotencyKey: "k1"})
	// A deadline bounds claims and leases.
	w.now = t0
	seq := w.must(alice, mailbox.OpSend, 0, mailbox.SendBody{To: "carol", Kind: "x", Body: "y", Deadline: oplog.FormatTime(t0.Add(30 * time.Second))})
	id := mailbox.NewID(alice, seq)
	w.must(carol, mailbox.OpClaim, 1, claim(id))
	if m := w.msg(id); !m.Lease.ExpiresAt.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("lease not capped at the deadline: %v", m.Lease.ExpiresAt)
	}
	w.now = t0.Add(time.Hour)
	if s := w.msg(id).StatusAt(w.now, policy(t)); s.State != mailbox.Failed {
		t.Errorf("past the deadline: %+v", s)
	}
	if k, _ := w.apply(carol, mailbox.OpClaim, 2, claim(id)); k != oplog.KindIllegal {
		t.Errorf("claim past the deadline: %q", k)
	}
}

func TestPolicyCheck(t *testing.T) {
	for _, p := range []mailbox.Policy{{MinLeaseAgeText: "soon"}, {MaxAttempts: -1}, {MaxAttempts: 1000}, {MaxRequeues: -2}} {
		if err := p.Check(); err == nil {
			t.Errorf("%+v passed", p)
		}
	}
	p := mailbox.Policy{}
	if err := p.Check(); err != nil || p.MaxAttempts != 3 || p.MinLeaseAge() != time.Minute {
		t.Errorf("defaults: %+v %v", p, err)
	}
}

// Only the sender cancels, and only a message not answered yet: an
// in-flight one loses its lease, so the holder's answer is refused.
func TestCancel(t *testing.T) {
	w := newWorld(t)
	id := w.send("")
	w.must(carol, mailbox.OpClaim, 1, claim(id))
	if k, _ := w.apply(carol, mailbox.OpCancel, 0, mailbox.CancelBody{Message: id, Reason: "mine"}); k != oplog.KindUnauthorized {
		t.Errorf("cancel by the recipient: %q", k)
	}
	w.must(bob, mailbox.OpCancel, 0, mailbox.CancelBody{Message: id, Reason: "not needed any more"})
	m := w.msg(id)
	if m.State != mailbox.Failed || !m.Cancelled || m.Error == nil || m.Error.Text != "not needed any more" {
		t.Fatalf("cancelled: %+v", m)
	}
	if k, _ := w.apply(carol, mailbox.OpRespond, 1, mailbox.RespondBody{Message: id, Result: "late"}); k == "" {
		t.Errorf("the holder answered a cancelled message: %q", k)
	}
	if k, _ := w.apply(bob, mailbox.OpCancel, 0, mailbox.CancelBody{Message: id, Reason: "again"}); k != oplog.KindIllegal {
		t.Errorf("a second cancel: %q", k)
	}
}
