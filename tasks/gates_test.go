package tasks

import (
	"testing"

	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/trust"
)

// bob2 is bob's second key, as after a rotation.
const bob2 = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"

// walk moves the task through the states, failing on a rejection.
func (w *world) walk(actor, id string, epoch uint64, states ...string) {
	w.t.Helper()
	for _, s := range states {
		if k := w.apply(actor, OpMove, id, epoch, t0, MoveBody{To: s}); k != "" {
			w.t.Fatalf("move to %s: %s", s, k)
		}
	}
}

func TestIndependenceAtTheMove(t *testing.T) {
	w := newWorld(t)
	w.st.PutActor(&trust.Actor{KeyID: bob2, Name: "bob", Role: "agent", RegisteredBy: alice})
	review := ReviewBody{Gate: "review.code", Verdict: "approve", Note: "ok"}

	// Approving before claiming does not make bob independent.
	id := w.create(alice)
	if k := w.apply(bob, OpReview, id, 0, t0, review); k != "" {
		t.Fatal(k)
	}
	w.apply(bob, OpClaim, id, 1, t0, ClaimBody{TTLSeconds: 600})
	w.walk(bob, id, 1, "self_review", "cross_review")
	if k := w.apply(bob, OpMove, id, 1, t0, MoveBody{To: "validation"}); k != oplog.KindNotIndependent {
		t.Errorf("approved before claiming: %q", k)
	}
	// Nor does a new key: bob's other key acts as bob, under his lease.
	if k := w.apply(bob2, OpReview, id, 0, t0, review); k != "" {
		t.Fatal(k)
	}
	if k := w.apply(bob2, OpMove, id, 1, t0, MoveBody{To: "validation"}); k != oplog.KindNotIndependent {
		t.Errorf("approved with another key of the implementer: %q", k)
	}
	if k := w.apply(bob2, OpHeartbeat, id, 1, t0, ClaimBody{TTLSeconds: 600}); k != "" {
		t.Errorf("heartbeat with the identity's other key: %q", k)
	}
	// alice never held the lease: her approval opens the gate.
	if k := w.apply(alice, OpReview, id, 0, t0, review); k != "" {
		t.Fatal(k)
	}
	if k := w.apply(bob2, OpMove, id, 1, t0, MoveBody{To: "validation"}); k != "" {
		t.Errorf("after an independent approval: %q", k)
	}
}

func TestReworkClearsApprovals(t *testing.T) {
	w := newWorld(t)
	id := w.create(alice)
	w.apply(bob, OpClaim, id, 1, t0, ClaimBody{TTLSeconds: 600})
	w.walk(bob, id, 1, "self_review", "cross_review")
	if k := w.apply(alice, OpReview, id, 0, t0, ReviewBody{Gate: "review.code", Verdict: "approve"}); k != "" {
		t.Fatal(k)
	}
	w.walk(bob, id, 1, "in_progress", "self_review", "cross_review")
	if k := w.apply(bob, OpMove, id, 1, t0, MoveBody{To: "validation"}); k != oplog.KindStaleApproval {
		t.Errorf("move over an approval given before rework: %q", k)
	}
	if rec := w.st.Tasks[id].Gates["review.code"]; !rec.Stale || rec.Satisfied {
		t.Errorf("gate record after rework: %+v", rec)
	}
	// Forward moves keep approvals.
	w.apply(alice, OpReview, id, 0, t0, ReviewBody{Gate: "review.code", Verdict: "approve"})
	w.walk(bob, id, 1, "validation")
}
