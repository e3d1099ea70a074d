package tasks

import (
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/oplog"
)

// Questions asked in a handoff stay open across later handoffs that do not
// repeat them, until someone answers them; the lease holder need not be
// the one who answers.
func TestQuestionsStayOpenUntilAnswered(t *testing.T) {
	w := newWorld(t)
	id := w.create(alice)
	handoff := func(actor string, epoch uint64, qs ...string) {
		t.Helper()
		w.apply(actor, OpClaim, id, epoch, t0, ClaimBody{TTLSeconds: 600})
		if k := w.apply(actor, OpHandoff, id, epoch, t0, Handoff{Summary: "s", Questions: qs, Validation: Validation{Status: "not-run"}}); k != "" {
			t.Fatalf("handoff: %s", k)
		}
	}
	handoff(bob, 1, "keep the retry?", "which timeout?")
	handoff(bob, 2)                               // asks nothing new: both stay open
	handoff(bob, 3, "keep the retry?", "rename?") // a repeat is not asked twice
	open := func() []string {
		var out []string
		for _, q := range w.st.Tasks[id].OpenQuestions() {
			out = append(out, q.Text)
		}
		return out
	}
	if got := strings.Join(open(), "|"); got != "keep the retry?|which timeout?|rename?" {
		t.Fatalf("open questions %q", got)
	}
	// alice, who never held the lease, answers; an unknown question is not found.
	if k := w.apply(alice, OpAnswer, id, 0, t0.Add(time.Second), AnswerBody{Question: "which timeout?", Answer: "30s"}); k != "" {
		t.Fatalf("answer: %s", k)
	}
	if k := w.apply(alice, OpAnswer, id, 0, t0, AnswerBody{Question: "which timeout?", Answer: "again"}); k != oplog.KindNotFound {
		t.Errorf("answering an answered question: %q", k)
	}
	if k := w.apply(alice, OpAnswer, id, 0, t0, AnswerBody{Question: "never asked", Answer: "x"}); k != oplog.KindNotFound {
		t.Errorf("answering an unknown question: %q", k)
	}
	if k := w.apply(alice, OpAnswer, id, 0, t0, AnswerBody{Question: "rename?"}); k != oplog.KindInvalidBody {
		t.Errorf("an empty answer: %q", k)
	}
	if got := strings.Join(open(), "|"); got != "keep the retry?|rename?" {
		t.Fatalf("open questions after an answer %q", got)
	}
	q := w.st.Tasks[id].Questions[1]
	if q.N != 2 || q.Answer != "30s" || q.AnsweredBy.Name != "alice" || q.By.Name != "bob" {
		t.Fatalf("answered question %+v", q)
	}
	// Asked again after its answer, it is a new question with a new number.
	handoff(bob, 4, "which timeout?")
	qs := w.st.Tasks[id].Questions
	if len(qs) != 4 || qs[3].N != 4 || !qs[3].Open() {
		t.Fatalf("questions %+v", qs)
	}
	if w.st.Tasks[id].Question("4") == nil || w.st.Tasks[id].Question("2") != nil {
		t.Fatal("Question finds open questions by number only")
	}
}

// Moves says a move is ready exactly when the fold lets it through its
// gates, and what each unsatisfied gate needs.
func TestMovesAgreeWithTheFold(t *testing.T) {
	w := newWorld(t)
	wf := DefaultWorkflow()
	id := w.create(alice)
	w.apply(bob, OpClaim, id, 1, t0, ClaimBody{TTLSeconds: 600})
	w.walk(bob, id, 1, "self_review", "cross_review")
	move := func(to string) Move {
		t.Helper()
		for _, m := range wf.Moves(w.st.Tasks[id]) {
			if m.To == to {
				return m
			}
		}
		t.Fatalf("no move to %s from %s", to, w.st.Tasks[id].State)
		return Move{}
	}
	m := move("validation")
	if m.Ready || len(m.Gates) != 1 || m.Gates[0].Satisfied || !strings.Contains(m.Gates[0].Needs, "never held the task's lease (not bob)") ||
		!strings.Contains(m.Gates[0].Needs, "task review "+id+" --gate review.code approve") {
		t.Fatalf("move to validation without review: %+v", m)
	}
	if k := w.apply(bob, OpMove, id, 1, t0, MoveBody{To: "validation"}); k == "" {
		t.Fatal("the fold let an ungated move through")
	}
	// bob's own approval does not count, and Moves says why.
	w.apply(bob, OpReview, id, 0, t0, ReviewBody{Gate: "review.code", Verdict: "approve"})
	if m := move("validation"); m.Ready || !strings.HasPrefix(m.Gates[0].Needs, "bob worked on the task") {
		t.Fatalf("after the implementer's approval: %+v", m)
	}
	w.apply(alice, OpReview, id, 0, t0, ReviewBody{Gate: "review.code", Verdict: "approve"})
	if m := move("validation"); !m.Ready || !m.Gates[0].Satisfied || m.Gates[0].Needs != "" {
		t.Fatalf("after an independent approval: %+v", m)
	}
	if k := w.apply(bob, OpMove, id, 1, t0, MoveBody{To: "validation"}); k != "" {
		t.Fatalf("the fold refused a move Moves calls ready: %s", k)
	}
	if m := move("ready"); m.Ready || !strings.Contains(m.Gates[0].Needs, "task check "+id+" --gate tests") {
		t.Fatalf("move to ready before a check: %+v", m)
	}
	for _, m := range wf.Moves(w.st.Tasks[id]) {
		if m.To == "escalated" {
			t.Fatal("escalation is listed as a move")
		}
	}
}
