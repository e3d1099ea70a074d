package tasks

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/trust"
)

const (
	alice = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	bob   = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	eve   = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// testRegistry folds what these tests write: trust and task ops.
var testRegistry = fold.MustNew([]fold.Guard{trust.Admit}, trust.Family(), Family(DefaultWorkflow()))

type world struct {
	t     *testing.T
	st    *MemState
	seq   map[string]uint64
	clock uint64
}

func newWorld(t *testing.T) *world {
	st := NewMemState()
	st.PutActor(&trust.Actor{KeyID: alice, Name: "alice", Root: true})
	st.PutActor(&trust.Actor{KeyID: bob, Name: "bob", Role: "agent", RegisteredBy: alice})
	st.PutPrincipal(&trust.Principal{Name: "alice", Root: true, Key: alice, Keys: []string{alice}})
	st.PutPrincipal(&trust.Principal{Name: "bob", Role: "agent", Key: bob, Keys: []string{bob}, Grants: []string{"cap-bob"}})
	st.PutGrant(&trust.Grant{ID: "cap-bob", To: "bob", By: "alice", Scopes: []string{
		trust.ScopeTaskCreate, trust.ScopeTaskClaim, trust.ScopeTaskMove, trust.ScopeTaskHandoff, trust.ScopeTaskLink,
		trust.ScopeTaskComment, trust.ScopeTaskCheck, trust.ScopeTaskEscalate, "review.code"}})
	return &world{t: t, st: st, seq: map[string]uint64{}}
}

// apply folds one op and returns the rejection kind ("" if applied).
func (w *world) apply(actor, typ, task string, epoch uint64, at time.Time, body any) string {
	w.t.Helper()
	w.seq[actor]++
	w.clock++
	op := &oplog.Op{V: 1, Type: typ, Actor: actor, Seq: w.seq[actor], Lamport: w.clock, Time: oplog.FormatTime(at), Task: task, Epoch: epoch}
	if typ == OpCreate {
		op.Task = NewID(actor, op.Seq)
	}
	op.Body, _ = json.Marshal(body)
	err := testRegistry.Apply(w.st, &oplog.Entry{Op: op, Commit: "c", Feed: actor})
	if err == nil {
		return ""
	}
	r, ok := oplog.AsRejection(err)
	if !ok {
		w.t.Fatalf("non-rejection error: %v", err)
	}
	return r.Kind
}

func (w *world) create(actor string) string {
	w.t.Helper()
	if k := w.apply(actor, OpCreate, "", 0, t0, CreateBody{Title: "t", Priority: "high"}); k != "" {
		w.t.Fatalf("create rejected: %s", k)
	}
	return NewID(actor, w.seq[actor])
}

func TestLeaseRules(t *testing.T) {
	w := newWorld(t)
	id := w.create(alice)
	claim := ClaimBody{TTLSeconds: 60}

	if k := w.apply(alice, OpClaim, id, 2, t0, claim); k != oplog.KindStaleEpoch {
		t.Errorf("claim skipping an epoch: %q", k)
	}
	if k := w.apply(alice, OpClaim, id, 1, t0, claim); k != "" {
		t.Fatalf("first claim: %q", k)
	}
	// Bob cannot claim or act while Alice's lease is active.
	if k := w.apply(bob, OpClaim, id, 2, t0.Add(30*time.Second), claim); k != oplog.KindLeaseHeld {
		t.Errorf("claim over an active lease: %q", k)
	}
	if k := w.apply(bob, OpMove, id, 0, t0.Add(30*time.Second), MoveBody{To: "self_review"}); k != oplog.KindLeaseHeld {
		t.Errorf("move by a non-holder: %q", k)
	}
	// Alice acting without her epoch is refused.
	if k := w.apply(alice, OpMove, id, 0, t0.Add(30*time.Second), MoveBody{To: "self_review"}); k != oplog.KindStaleEpoch {
		t.Errorf("holder acting without epoch: %q", k)
	}
	// After expiry Bob claims with epoch 2; Alice's late op is refused.
	if k := w.apply(bob, OpClaim, id, 2, t0.Add(61*time.Second), claim); k != "" {
		t.Fatalf("claim after expiry: %q", k)
	}
	h := Handoff{Summary: "late", Validation: Validation{Status: "not-run"}}
	if k := w.apply(alice, OpHandoff, id, 1, t0.Add(62*time.Second), h); k != oplog.KindStaleEpoch {
		t.Errorf("late handoff under the old epoch: %q", k)
	}
	task := w.st.Tasks[id]
	if task.Lease.Key != bob || task.Epoch != 2 {
		t.Fatalf("lease %+v epoch %d", task.Lease, task.Epoch)
	}
	// Bob's lease expires; an op under it is refused as expired.
	if k := w.apply(bob, OpMove, id, 2, t0.Add(200*time.Second), MoveBody{To: "cancelled"}); k != oplog.KindLeaseExpired {
		t.Errorf("op after own lease expired: %q", k)
	}
	if k := w.apply(bob, OpRelease, id, 0, t0.Add(200*time.Second), struct{}{}); k != oplog.KindIllegal {
		t.Errorf("release of an expired lease: %q", k)
	}
	if k := w.apply(bob, OpMove, id, 0, t0.Add(201*time.Second), MoveBody{To: "cancelled"}); k != "" {
		t.Fatalf("cancel without lease: %q", k)
	}
	if k := w.apply(bob, OpMove, id, 0, t0.Add(202*time.Second), MoveBody{To: "cancelled"}); k != oplog.KindIllegal {
		t.Errorf("cancel twice: %q", k)
	}
	if k := w.apply(alice, OpClaim, id, 3, t0.Add(203*time.Second), claim); k != oplog.KindIllegal {
		t.Errorf("claim of a cancelled task: %q", k)
	}
	if got := len(w.st.Tasks[id].History); got != 4 {
		t.Errorf("history has %d events, want 4 (create, claim, claim, cancel)", got)
	}
}

func TestHandoffReleasesLeaseUnlessKept(t *testing.T) {
	w := newWorld(t)
	id := w.create(alice)
	w.apply(alice, OpClaim, id, 1, t0, ClaimBody{TTLSeconds: 600})
	keep := Handoff{Summary: "s", Validation: Validation{Status: "passed"}, KeepLease: true}
	if k := w.apply(alice, OpHandoff, id, 1, t0, keep); k != "" {
		t.Fatal(k)
	}
	if w.st.Tasks[id].Lease == nil {
		t.Fatal("keep_lease dropped the lease")
	}
	if k := w.apply(alice, OpHandoff, id, 1, t0, Handoff{Summary: "s2", Validation: Validation{Status: "failed"}}); k != "" {
		t.Fatal(k)
	}
	task := w.st.Tasks[id]
	if task.Lease != nil || task.Handoffs != 2 || task.Handoff.Summary != "s2" || task.Handoff.By.Name != "alice" {
		t.Fatalf("after handoff: %+v", task)
	}
	if k := w.apply(alice, OpHandoff, id, 0, t0, Handoff{Summary: "", Validation: Validation{Status: "passed"}}); k != oplog.KindInvalidBody {
		t.Errorf("empty summary: %q", k)
	}
	if k := w.apply(alice, OpHandoff, id, 0, t0, Handoff{Summary: "x", Validation: Validation{Status: "green"}}); k != oplog.KindInvalidBody {
		t.Errorf("bad validation status: %q", k)
	}
	if k := w.apply(alice, OpHandoff, id, 0, t0, Handoff{Summary: "x", Validation: Validation{Status: "passed"}, Files: []FileRef{{Path: "../etc/passwd", Blob: "0123456789012345678901234567890123456789"}}}); k != oplog.KindInvalidBody {
		t.Errorf("file outside the repo: %q", k)
	}
}

func TestCreateRules(t *testing.T) {
	w := newWorld(t)
	if k := w.apply(eve, OpCreate, "", 0, t0, CreateBody{Title: "x", Priority: "low"}); k != oplog.KindUntrustedKey {
		t.Errorf("create by an unknown key: %q", k)
	}
	// A create that names an id other than the derived one is refused.
	w.seq[alice]++
	w.clock++
	op := &oplog.Op{V: 1, Type: OpCreate, Actor: alice, Seq: w.seq[alice], Lamport: w.clock, Time: oplog.FormatTime(t0), Task: "tk-000000000000", Body: []byte(`{"priority":"low","title":"x"}`)}
	if err := testRegistry.Apply(w.st, &oplog.Entry{Op: op}); err == nil {
		t.Error("create with a chosen id was applied")
	}
	if k := w.apply(alice, OpCreate, "", 0, t0, CreateBody{Title: "  ", Priority: "low"}); k != oplog.KindInvalidBody {
		t.Errorf("blank title: %q", k)
	}
	if k := w.apply(alice, OpCreate, "", 0, t0, map[string]any{"title": "x", "priority": "low", "colour": "red"}); k != oplog.KindInvalidBody {
		t.Errorf("unknown body field: %q", k)
	}
	if k := w.apply(alice, OpClaim, "tk-000000000000", 1, t0, ClaimBody{TTLSeconds: 5}); k != oplog.KindNotFound {
		t.Errorf("claim of an unknown task: %q", k)
	}
	id := w.create(alice)
	if k := w.apply(alice, OpClaim, id, 1, t0, ClaimBody{TTLSeconds: 0}); k != oplog.KindInvalidBody {
		t.Errorf("zero ttl: %q", k)
	}
}

func TestRegistration(t *testing.T) {
	w := newWorld(t)
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHfGz2bZ0JnyPA8e4/7Ipm53+aaoHuzsM26oYxK8eTwz"
	body := trust.IdentityBody{Name: "carol", Role: "agent", Key: key}
	if k := w.apply(bob, trust.OpRegister, "", 0, t0, body); k != oplog.KindUnauthorized {
		t.Errorf("registration by a non-root: %q", k)
	}
	if k := w.apply(alice, trust.OpRegister, "", 0, t0, body); k != "" {
		t.Fatalf("registration by the root: %q", k)
	}
	if k := w.apply(alice, trust.OpRegister, "", 0, t0, body); k != oplog.KindDuplicate {
		t.Errorf("registering twice: %q", k)
	}
}
