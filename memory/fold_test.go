package memory_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/memory"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

const (
	alice = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	bob   = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	carol = "cccccccccccccccccccccccccccccccc"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// The registry these tests fold through: the memory family next to the
// ones it builds on, composed as the service composes its own.
var reg = fold.MustNew([]fold.Guard{trust.Admit}, trust.Family(), tasks.Family(tasks.DefaultWorkflow()), memory.Family())

type world struct {
	t   *testing.T
	st  *tasks.MemState
	seq map[string]uint64
	lam uint64
}

// newWorld: alice is a root, bob may write memory, carol may write memory
// only on tasks labelled docs.
func newWorld(t *testing.T) *world {
	st := tasks.NewMemState()
	st.PutActor(&trust.Actor{KeyID: alice, Name: "alice", Role: "human", Root: true})
	st.PutPrincipal(&trust.Principal{Name: "alice", Root: true, Key: alice, Keys: []string{alice}})
	for _, a := range []struct{ key, name, grant string }{{bob, "bob", "cap-bob"}, {carol, "carol", "cap-carol"}} {
		st.PutActor(&trust.Actor{KeyID: a.key, Name: a.name, Role: "agent", RegisteredBy: alice})
		st.PutPrincipal(&trust.Principal{Name: a.name, Role: "agent", Key: a.key, Keys: []string{a.key}, Grants: []string{a.grant}})
	}
	st.PutGrant(&trust.Grant{ID: "cap-bob", To: "bob", By: "alice", Scopes: []string{trust.ScopeMemory}})
	st.PutGrant(&trust.Grant{ID: "cap-carol", To: "carol", By: "alice", Scopes: []string{trust.ScopeMemory}, Labels: []string{"docs"}})
	return &world{t: t, st: st, seq: map[string]uint64{}}
}

// apply folds one op and returns its rejection kind ("" if applied) and the
// op's seq.
func (w *world) apply(actor, typ, task string, body any) (string, uint64) {
	w.t.Helper()
	w.seq[actor]++
	w.lam++
	op := &oplog.Op{V: 1, Type: typ, Actor: actor, Seq: w.seq[actor], Lamport: w.lam, Time: oplog.FormatTime(t0), Task: task}
	op.Body, _ = json.Marshal(body)
	if typ == tasks.OpCreate {
		op.Task = tasks.NewID(actor, op.Seq)
	}
	err := reg.Apply(w.st, &oplog.Entry{Op: op, Commit: "c" + typ, Feed: actor})
	if err == nil {
		return "", op.Seq
	}
	r, ok := oplog.AsRejection(err)
	if !ok {
		w.t.Fatalf("non-rejection error: %v", err)
	}
	return r.Kind, op.Seq
}

func (w *world) memory(id string) *memory.Memory {
	w.t.Helper()
	var m memory.Memory
	ok, err := w.st.Record(memory.Kind, id, &m)
	if err != nil {
		w.t.Fatal(err)
	}
	if !ok {
		return nil
	}
	return &m
}

func TestAddAndForget(t *testing.T) {
	w := newWorld(t)
	pin := memory.Pin{Path: "docs/a.md", Blob: "0123456789abcdef0123456789abcdef01234567"}
	k, seq := w.apply(bob, memory.OpAdd, "", memory.AddBody{Tier: "longterm", Text: "the tests need docker", Pins: []memory.Pin{pin}, Tags: []string{"ci", "ci", "build"}})
	if k != "" {
		t.Fatalf("add: %s", k)
	}
	id := memory.NewID(bob, seq)
	m := w.memory(id)
	if m == nil || m.Text != "the tests need docker" || m.By.Name != "bob" || len(m.Pins) != 1 || len(m.Tags) != 2 || m.Tags[0] != "build" {
		t.Fatalf("folded memory: %+v", m)
	}
	// Forgetting: a reason is needed; unknown ids are not found; once only.
	if k, _ := w.apply(bob, memory.OpForget, "", memory.ForgetBody{ID: id}); k != oplog.KindInvalidBody {
		t.Errorf("forget without a reason: %s", k)
	}
	if k, _ := w.apply(bob, memory.OpForget, "", memory.ForgetBody{ID: "mem-000000000000", Reason: "x"}); k != oplog.KindNotFound {
		t.Errorf("forget of an unknown memory: %s", k)
	}
	if k, _ := w.apply(alice, memory.OpForget, "", memory.ForgetBody{ID: id, Reason: "outdated"}); k != "" {
		t.Fatalf("forget: %s", k)
	}
	if m := w.memory(id); m.Forgotten == nil || m.Forgotten.By.Name != "alice" || m.Forgotten.Reason != "outdated" {
		t.Errorf("forgotten: %+v", m.Forgotten)
	}
	if k, _ := w.apply(alice, memory.OpForget, "", memory.ForgetBody{ID: id, Reason: "again"}); k != oplog.KindDuplicate {
		t.Errorf("forgetting twice: %s", k)
	}
	var n int
	w.st.EachRecord(memory.Kind, func(string, []byte) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d memory records, want 1", n)
	}
}

func TestAddRules(t *testing.T) {
	w := newWorld(t)
	good := memory.AddBody{Tier: "working", Text: "x"}
	for name, body := range map[string]any{
		"unknown tier":  memory.AddBody{Tier: "forever", Text: "x"},
		"empty text":    memory.AddBody{Tier: "working", Text: "  "},
		"bad task id":   memory.AddBody{Tier: "working", Text: "x", Task: "task-1"},
		"absolute pin":  memory.AddBody{Tier: "working", Text: "x", Pins: []memory.Pin{{Path: "/etc/passwd", Blob: "0123456789abcdef0123456789abcdef01234567"}}},
		"bad pin blob":  memory.AddBody{Tier: "working", Text: "x", Pins: []memory.Pin{{Path: "a", Blob: "HEAD"}}},
		"bad tag":       memory.AddBody{Tier: "working", Text: "x", Tags: []string{"no spaces"}},
		"unknown field": map[string]any{"tier": "working", "text": "x", "colour": "red"},
	} {
		if k, _ := w.apply(bob, memory.OpAdd, "", body); k != oplog.KindInvalidBody {
			t.Errorf("%s: %q", name, k)
		}
	}
	// The envelope names no task; the body does.
	if k, _ := w.apply(bob, memory.OpAdd, "tk-000000000000", good); k != oplog.KindInvalidBody {
		t.Errorf("task in the envelope: %q", k)
	}
	// Authority: memory.write, within the grant's labels.
	if k, _ := w.apply("dddddddddddddddddddddddddddddddd", memory.OpAdd, "", good); k != oplog.KindUntrustedKey {
		t.Errorf("unknown key: %q", k)
	}
	if k, _ := w.apply(carol, memory.OpAdd, "", good); k != oplog.KindUnauthorized {
		t.Errorf("label-restricted grant on a memory with no task: %q", k)
	}
	if k, _ := w.apply(bob, memory.OpAdd, "", memory.AddBody{Tier: "working", Text: "x", Task: "tk-000000000000"}); k != oplog.KindNotFound {
		t.Errorf("memory about an unknown task: %q", k)
	}
	k, seq := w.apply(alice, tasks.OpCreate, "", tasks.CreateBody{Title: "docs", Labels: []string{"docs"}})
	if k != "" {
		t.Fatal(k)
	}
	docs := tasks.NewID(alice, seq)
	k, seq = w.apply(carol, memory.OpAdd, "", memory.AddBody{Tier: "episodic", Text: "wrote the intro", Task: docs})
	if k != "" {
		t.Errorf("carol on a docs task: %q", k)
	}
	if k, _ := w.apply(bob, memory.OpForget, "", memory.ForgetBody{ID: memory.NewID(carol, seq), Reason: "x"}); k != "" {
		t.Errorf("bob forgets carol's memory: %q", k)
	}
}

// The writer's check is the fold's: the registry refuses a bad body before
// anything is signed.
func TestWriterCheck(t *testing.T) {
	op := &oplog.Op{V: 1, Type: memory.OpAdd, Actor: bob, Seq: 1, Lamport: 1, Time: oplog.FormatTime(t0), Body: []byte(`{"tier":"forever","text":"x"}`)}
	if _, err := reg.Check(op); err == nil {
		t.Error("a bad tier passed the writer's check")
	}
	op.Body = []byte(`{"tier":"working","text":"x","tags":["b","a","a"]}`)
	b, err := reg.Check(op)
	if err != nil {
		t.Fatal(err)
	}
	if tags := b.(*memory.AddBody).Tags; len(tags) != 2 || tags[0] != "a" {
		t.Errorf("tags not normalized for signing: %v", tags)
	}
}

// Per-tier scopes: dave may write working memory only; forget, restore,
// mark and promote need the memory's tier, a promotion the target's too.
func TestTierScopesAndChanges(t *testing.T) {
	w := newWorld(t)
	const dave = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	w.st.PutActor(&trust.Actor{KeyID: dave, Name: "dave", Role: "agent", RegisteredBy: alice})
	w.st.PutPrincipal(&trust.Principal{Name: "dave", Role: "agent", Key: dave, Keys: []string{dave}, Grants: []string{"cap-dave"}})
	w.st.PutGrant(&trust.Grant{ID: "cap-dave", To: "dave", By: "alice", Scopes: []string{trust.ScopeMemoryWorking}})
	if k, _ := w.apply(dave, memory.OpAdd, "", memory.AddBody{Tier: "longterm", Text: "x"}); k != oplog.KindUnauthorized {
		t.Errorf("dave adds long-term memory: %q", k)
	}
	k, seq := w.apply(dave, memory.OpAdd, "", memory.AddBody{Tier: "working", Text: "scratch: the parser is in parse.go"})
	if k != "" {
		t.Fatalf("dave adds working memory: %q", k)
	}
	id := memory.NewID(dave, seq)
	if k, _ := w.apply(dave, memory.OpPromote, "", memory.ChangeBody{ID: id, Tier: "longterm", Reason: "useful"}); k != oplog.KindUnauthorized {
		t.Errorf("dave promotes to long-term: %q", k)
	}
	if k, _ := w.apply(bob, memory.OpPromote, "", memory.ChangeBody{ID: id, Tier: "working", Reason: "x"}); k != oplog.KindInvalidBody {
		t.Errorf("promotion to the same tier: %q", k)
	}
	if k, _ := w.apply(bob, memory.OpPromote, "", memory.ChangeBody{ID: id, Tier: "episodic", Reason: "what happened"}); k != "" {
		t.Fatalf("bob promotes: %q", k)
	}
	if m := w.memory(id); m.Tier != "episodic" || len(m.Changes) != 1 || m.Changes[0].Tier != "working" {
		t.Fatalf("promoted: %+v", m)
	}
	// Now episodic: dave's working scope no longer covers it.
	if k, _ := w.apply(dave, memory.OpForget, "", memory.ForgetBody{ID: id, Reason: "x"}); k != oplog.KindUnauthorized {
		t.Errorf("dave forgets an episodic memory: %q", k)
	}
	if k, _ := w.apply(bob, memory.OpRestore, "", memory.ChangeBody{ID: id, Reason: "x"}); k != oplog.KindDuplicate {
		t.Errorf("restore of a live memory: %q", k)
	}
	if k, _ := w.apply(bob, memory.OpForget, "", memory.ForgetBody{ID: id, Reason: "task ended"}); k != "" {
		t.Fatal(k)
	}
	if k, _ := w.apply(bob, memory.OpPromote, "", memory.ChangeBody{ID: id, Tier: "longterm", Reason: "x"}); k != oplog.KindInvalidBody {
		t.Errorf("promotion of a forgotten memory: %q", k)
	}
	if k, _ := w.apply(bob, memory.OpRestore, "", memory.ChangeBody{ID: id, Reason: "still true"}); k != "" {
		t.Fatal(k)
	}
	if k, _ := w.apply(bob, memory.OpMark, "", memory.ChangeBody{ID: id, Stale: true, Reason: "parse.go changed"}); k != "" {
		t.Fatal(k)
	}
	if k, _ := w.apply(bob, memory.OpMark, "", memory.ChangeBody{ID: id, Stale: true, Reason: "again"}); k != oplog.KindDuplicate {
		t.Errorf("marking twice: %q", k)
	}
	m := w.memory(id)
	if m.Forgotten != nil || m.Stale == nil || m.Stale.Reason != "parse.go changed" || len(m.Changes) != 4 || m.Text != "scratch: the parser is in parse.go" {
		t.Fatalf("after restore and mark: %+v", m)
	}
	if k, _ := w.apply(bob, memory.OpRestore, "", memory.ChangeBody{ID: id, Reason: "x", Tier: "longterm"}); k != oplog.KindInvalidBody {
		t.Errorf("restore with a tier: %q", k)
	}
	var post []string
	for k := range w.st.PostingKeys() {
		post = append(post, strings.ReplaceAll(k, "\x00", " "))
	}
	sort.Strings(post)
	wantPost := []string{}
	for _, term := range []string{"go", "in", "is", "parse", "parser", "scratch", "the"} {
		wantPost = append(wantPost, "memory "+term+" "+id)
	}
	if strings.Join(post, "\n") != strings.Join(wantPost, "\n") {
		t.Errorf("postings %q, want %q", post, wantPost)
	}
	// The rank record follows the changes: stale now, not forgotten.
	var rank string
	if ok, _ := w.st.Record(memory.RankKind, id, &rank); !ok || !strings.HasPrefix(rank, "-s- ") {
		t.Errorf("rank %q", rank)
	}
	var count int
	if ok, _ := w.st.Record(memory.CountKind, memory.CountKey, &count); !ok || count != 1 {
		t.Errorf("count %d", count)
	}
}
