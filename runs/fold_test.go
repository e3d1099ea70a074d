package runs_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/runs"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

const (
	alice = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" // human root
	bot   = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" // agent
	dmn   = "dddddddddddddddddddddddddddddddd" // daemon
	eve   = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee" // another agent
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

var reg = fold.MustNew([]fold.Guard{trust.Admit}, trust.Family(), tasks.Family(tasks.DefaultWorkflow()), runs.Family())

type world struct {
	t   *testing.T
	st  *tasks.MemState
	seq map[string]uint64
	lam uint64
}

func newWorld(t *testing.T) *world {
	st := tasks.NewMemState()
	st.PutActor(&trust.Actor{KeyID: alice, Name: "alice", Role: "human", Root: true})
	st.PutPrincipal(&trust.Principal{Name: "alice", Root: true, Key: alice, Keys: []string{alice}})
	for _, a := range []struct{ key, name, role string }{{bot, "bot", "agent"}, {dmn, "dmn", "daemon"}, {eve, "eve", "agent"}} {
		st.PutActor(&trust.Actor{KeyID: a.key, Name: a.name, Role: a.role, RegisteredBy: alice})
		st.PutPrincipal(&trust.Principal{Name: a.name, Role: a.role, Key: a.key, Keys: []string{a.key}, Grants: []string{"cap-" + a.name}})
		st.PutGrant(&trust.Grant{ID: "cap-" + a.name, To: a.name, By: "alice", Scopes: []string{trust.ScopeTaskClaim}})
	}
	return &world{t: t, st: st, seq: map[string]uint64{}}
}

func (w *world) apply(actor, typ, task string, epoch uint64, body any) (string, uint64) {
	w.t.Helper()
	w.seq[actor]++
	w.lam++
	op := &oplog.Op{V: 1, Type: typ, Actor: actor, Seq: w.seq[actor], Lamport: w.lam, Time: oplog.FormatTime(t0), Task: task, Epoch: epoch}
	op.Body, _ = json.Marshal(body)
	if typ == tasks.OpCreate {
		op.Task = tasks.NewID(actor, op.Seq)
	}
	err := reg.Apply(w.st, &oplog.Entry{Op: op, Commit: strings.Repeat("c", 40), Feed: actor})
	if err == nil {
		return "", op.Seq
	}
	r, ok := oplog.AsRejection(err)
	if !ok {
		w.t.Fatalf("non-rejection error: %v", err)
	}
	return r.Kind, op.Seq
}

func body(mod func(b *runs.RecordBody)) runs.RecordBody {
	code := 0
	b := runs.RecordBody{Run: "run-0123456789abcdef", Agent: "bot", Manifest: "bot", Epoch: 1, Command: strings.Repeat("a", 64),
		Outcome: runs.Exited, ExitCode: &code, Started: "2026-01-01T12:00:00Z", DurationMS: 10, OutputBytes: 3,
		Branch: "covenant/x", Commits: []string{strings.Repeat("1", 40)}}
	if mod != nil {
		mod(&b)
	}
	return b
}

// A daemon records a run of the agent that held the task under that
// epoch, once; the record is kept and shows in the task's history.
func TestRecord(t *testing.T) {
	w := newWorld(t)
	k, seq := w.apply(alice, tasks.OpCreate, "", 0, tasks.CreateBody{Title: "x"})
	if k != "" {
		t.Fatal(k)
	}
	task := tasks.NewID(alice, seq)
	if k, _ := w.apply(bot, tasks.OpClaim, task, 1, tasks.ClaimBody{TTLSeconds: 60}); k != "" {
		t.Fatalf("claim: %s", k)
	}
	if k, _ := w.apply(dmn, runs.OpRecord, task, 0, body(nil)); k != "" {
		t.Fatalf("record: %s", k)
	}
	var rec runs.Record
	if ok, err := w.st.Record(runs.Kind, "run-0123456789abcdef", &rec); err != nil || !ok {
		t.Fatalf("record not kept: %v", err)
	}
	if rec.Task != task || rec.By.Name != "dmn" || *rec.ExitCode != 0 {
		t.Errorf("record: %+v", rec)
	}
	tk, _ := w.st.Task(task)
	if last := tk.History[len(tk.History)-1]; last.Type != runs.OpRecord || !strings.Contains(last.Summary, "exited (exit 0)") {
		t.Errorf("history: %+v", last)
	}
	if k, _ := w.apply(dmn, runs.OpRecord, task, 0, body(nil)); k != oplog.KindDuplicate {
		t.Errorf("recorded twice: %q", k)
	}
	// Every rule, each breaking one thing.
	for name, c := range map[string]struct {
		actor, task string
		epoch       uint64
		b           runs.RecordBody
		want        string
	}{
		"an agent records its own run": {bot, task, 0, body(func(b *runs.RecordBody) { b.Run = "run-1000000000000001" }), oplog.KindUnauthorized},
		"a human records a run":        {alice, task, 0, body(func(b *runs.RecordBody) { b.Run = "run-1000000000000002" }), oplog.KindUnauthorized},
		"another agent's epoch":        {dmn, task, 0, body(func(b *runs.RecordBody) { b.Run = "run-1000000000000003"; b.Agent = "eve" }), oplog.KindIllegal},
		"an epoch never granted":       {dmn, task, 0, body(func(b *runs.RecordBody) { b.Run = "run-1000000000000004"; b.Epoch = 2 }), oplog.KindIllegal},
		"an unknown agent":             {dmn, task, 0, body(func(b *runs.RecordBody) { b.Run = "run-1000000000000005"; b.Agent = "nobody" }), oplog.KindNotFound},
		"no task":                      {dmn, "", 0, body(func(b *runs.RecordBody) { b.Run = "run-1000000000000006" }), oplog.KindInvalidBody},
		"an unknown task":              {dmn, "tk-000000000000", 0, body(func(b *runs.RecordBody) { b.Run = "run-1000000000000007" }), oplog.KindNotFound},
		"epoch in the envelope":        {dmn, task, 1, body(func(b *runs.RecordBody) { b.Run = "run-1000000000000008" }), oplog.KindInvalidBody},
		"abandoned with an exit code":  {dmn, task, 0, body(func(b *runs.RecordBody) { b.Run = "run-1000000000000009"; b.Outcome = runs.Abandoned }), oplog.KindInvalidBody},
		"exited without an exit code":  {dmn, task, 0, body(func(b *runs.RecordBody) { b.Run = "run-100000000000000a"; b.ExitCode = nil }), oplog.KindInvalidBody},
		"a bad run id":                 {dmn, task, 0, body(func(b *runs.RecordBody) { b.Run = "run-1" }), oplog.KindInvalidBody},
		"a bad commit":                 {dmn, task, 0, body(func(b *runs.RecordBody) { b.Run = "run-100000000000000b"; b.Commits = []string{"HEAD"} }), oplog.KindInvalidBody},
		"a bad branch":                 {dmn, task, 0, body(func(b *runs.RecordBody) { b.Run = "run-100000000000000c"; b.Branch = "main" }), oplog.KindInvalidBody},
		"an unknown outcome":           {dmn, task, 0, body(func(b *runs.RecordBody) { b.Run = "run-100000000000000d"; b.Outcome = "fine" }), oplog.KindInvalidBody},
	} {
		if k, _ := w.apply(c.actor, runs.OpRecord, c.task, c.epoch, c.b); k != c.want {
			t.Errorf("%s: %q, want %q", name, k, c.want)
		}
	}
	// Abandoned runs carry no exit status.
	ab := body(func(b *runs.RecordBody) { b.Run = "run-200000000000000a"; b.Outcome = runs.Abandoned; b.ExitCode = nil })
	if k, _ := w.apply(dmn, runs.OpRecord, task, 0, ab); k != "" {
		t.Errorf("abandoned: %q", k)
	}
}
