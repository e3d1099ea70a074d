package settle_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/receipts"
	"github.com/git-covenant/git-covenant/runs"
	"github.com/git-covenant/git-covenant/settle"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

const (
	alice = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" // human root
	bot   = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" // agent
	dmn   = "dddddddddddddddddddddddddddddddd" // daemon
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

var reg = fold.MustNew([]fold.Guard{trust.Admit}, trust.Family(), tasks.Family(tasks.DefaultWorkflow()), runs.Family(), settle.Family())

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
	for _, a := range []struct{ key, name, role string }{{bot, "bot", "agent"}, {dmn, "dmn", "daemon"}} {
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
	err := reg.Apply(w.st, &oplog.Entry{Op: op, Commit: fmt.Sprintf("%040x", w.lam), Feed: actor})
	if err == nil {
		return "", op.Seq
	}
	r, ok := oplog.AsRejection(err)
	if !ok {
		w.t.Fatalf("non-rejection error: %v", err)
	}
	return r.Kind, op.Seq
}

// runs records n runs of bot on a task and returns their receipts in
// fold order.
func (w *world) runs(n int) []receipts.Receipt {
	w.t.Helper()
	k, seq := w.apply(alice, tasks.OpCreate, "", 0, tasks.CreateBody{Title: "x"})
	if k != "" {
		w.t.Fatal(k)
	}
	task := tasks.NewID(alice, seq)
	if k, _ := w.apply(bot, tasks.OpClaim, task, 1, tasks.ClaimBody{TTLSeconds: 60}); k != "" {
		w.t.Fatalf("claim: %s", k)
	}
	var out []receipts.Receipt
	for i := 0; i < n; i++ {
		code := 0
		b := runs.RecordBody{Run: fmt.Sprintf("run-%016x", i), Agent: "bot", Manifest: "bot", Epoch: 1, Command: strings.Repeat("a", 64),
			Outcome: runs.Exited, ExitCode: &code, Started: "2026-01-01T12:00:00Z", DurationMS: int64(10 + i), CPUMS: int64(i)}
		if i%2 == 1 {
			b.MaxRSS = int64(1000 * i)
			b.Tokens, b.Credits = &runs.Tokens{Input: int64(i), Output: 1}, int64(7*i)
		}
		if k, _ := w.apply(dmn, runs.OpRecord, task, 0, b); k != "" {
			w.t.Fatalf("record: %s", k)
		}
		var rec runs.Record
		w.st.Record(runs.Kind, b.Run, &rec)
		out = append(out, receipts.FromRun(&rec)...)
	}
	return out
}

// 1,000 receipts batched in one op: the fold recomputes the root, every
// receipt's proof verifies, a changed receipt or proof fails; a batch
// whose root is not the listed receipts', a receipt batched twice and a
// batch by an agent are refused.
func TestBatchOfAThousand(t *testing.T) {
	w := newWorld(t)
	rs := w.runs(334)
	rs = rs[:min(len(rs), 1000)]
	if len(rs) != 1000 {
		t.Fatalf("%d receipts", len(rs))
	}
	b, err := settle.NewBatch(rs)
	if err != nil {
		t.Fatal(err)
	}
	lie := *b
	lie.Root = strings.Repeat("0", 64)
	if k, _ := w.apply(dmn, settle.OpBatch, "", 0, lie); k != oplog.KindInvalidBody {
		t.Errorf("a batch with another root: %q", k)
	}
	if k, _ := w.apply(bot, settle.OpBatch, "", 0, b); k != oplog.KindUnauthorized {
		t.Errorf("a batch by an agent: %q", k)
	}
	ghost := *b
	ghost.Receipts = append(append([]string{}, b.Receipts[:999]...), "run-00000000000fffff.wall_ms")
	ghost.Last = ghost.Receipts[999]
	if k, _ := w.apply(dmn, settle.OpBatch, "", 0, ghost); k != oplog.KindNotFound {
		t.Errorf("a batch of a receipt that does not exist: %q", k)
	}
	if k, _ := w.apply(dmn, settle.OpBatch, "", 0, b); k != "" {
		t.Fatalf("batch: %q", k)
	}
	again, _ := settle.NewBatch(rs[:10])
	if k, _ := w.apply(alice, settle.OpBatch, "", 0, again); k != oplog.KindDuplicate {
		t.Errorf("receipts batched twice: %q", k)
	}
	proofs, err := settle.ProofsFor(w.st, settle.BatchID(b.Root))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range proofs {
		if err := p.Verify(); err != nil {
			t.Fatalf("proof %d: %v", i, err)
		}
		if p.Root != b.Root || p.Receipt != rs[i].ID || p.Size != 1000 {
			t.Fatalf("proof %d: %+v", i, p)
		}
	}
	one, err := settle.ProofFor(w.st, rs[517].ID)
	if err != nil || one.Verify() != nil || one.LeafHash != proofs[517].LeafHash {
		t.Fatalf("proof of one receipt: %v", err)
	}
	// A changed receipt: one more CPU millisecond.
	p := *proofs[517]
	p.Canon = strings.Replace(p.Canon, fmt.Sprintf(`"units":%d`, rs[517].Units), fmt.Sprintf(`"units":%d`, rs[517].Units+1), 1)
	if p.Canon == proofs[517].Canon || p.Verify() == nil {
		t.Error("a changed receipt verified")
	}
	p.LeafHash = settle.Hex(settle.LeafHash([]byte(p.Canon)))
	if p.Verify() == nil {
		t.Error("a changed receipt with its own leaf hash verified")
	}
	// A changed proof: one path node, the index, the size.
	p = *proofs[517]
	p.Path = append([]string{}, p.Path...)
	p.Path[3] = strings.Repeat("1", 64)
	if p.Verify() == nil {
		t.Error("a changed path verified")
	}
	p = *proofs[517]
	p.Index = 516
	if p.Verify() == nil {
		t.Error("a changed index verified")
	}
	p = *proofs[517]
	p.Size = 520
	if p.Verify() == nil {
		t.Error("a changed size verified")
	}
	if _, err := settle.ProofFor(w.st, "run-00000000000fffff.wall_ms"); err == nil {
		t.Error("a proof of no receipt")
	}
}

func TestBatchBodyCheck(t *testing.T) {
	ok := settle.BatchBody{Root: strings.Repeat("a", 64), Count: 1, First: "run-0000000000000001.cpu_ms", Last: "run-0000000000000001.cpu_ms", Receipts: []string{"run-0000000000000001.cpu_ms"}}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(b *settle.BatchBody){
		"count": func(b *settle.BatchBody) { b.Count = 2 },
		"root":  func(b *settle.BatchBody) { b.Root = "xyz" },
		"range": func(b *settle.BatchBody) { b.First = "run-0000000000000002.cpu_ms" },
		"unit": func(b *settle.BatchBody) {
			b.Receipts = []string{"run-0000000000000001.gpu"}
			b.First, b.Last = b.Receipts[0], b.Receipts[0]
		},
		"twice":     func(b *settle.BatchBody) { b.Receipts = append(b.Receipts, b.Receipts[0]); b.Count = 2 },
		"too large": func(b *settle.BatchBody) { b.Count = settle.MaxBatch + 1 },
	} {
		b := ok
		b.Receipts = append([]string{}, ok.Receipts...)
		mod(&b)
		if b.Check() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
