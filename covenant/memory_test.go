package covenant_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/memory"
	"github.com/git-covenant/git-covenant/oplog"
)

func memories(t *testing.T, r *covenant.Service) map[string]memory.Memory {
	t.Helper()
	out := map[string]memory.Memory{}
	err := r.EachRecord(context.Background(), memory.Kind, func(key string, raw []byte) error {
		var m memory.Memory
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		out[key] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The memory family, registered from its own package, is written, folded by
// the index, rebuilt and verified like any other: nothing in tasks or index
// knows it.
func TestMemoryFamilyEndToEnd(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	r := f.open()
	add := func(b memory.AddBody) (*covenant.Written, error) {
		return r.Append(context.Background(), []covenant.Draft{{Type: memory.OpAdd, Body: b, Summary: b.Text}})
	}
	w, err := add(memory.AddBody{Tier: "longterm", Text: "run make test before pushing", Tags: []string{"ci"}})
	if err != nil {
		t.Fatal(err)
	}
	id := memory.NewID(w.Entries[0].Op.Actor, w.Entries[0].Op.Seq)
	got := memories(t, r)
	if m, ok := got[id]; !ok || m.Text != "run make test before pushing" || m.By.Name != "alice" {
		t.Fatalf("memories after add: %+v", got)
	}

	// A bad body is refused by the same Check before anything is signed.
	before := f.covenantRefs()
	_, err = add(memory.AddBody{Tier: "forever", Text: "x"})
	if r, ok := oplog.AsRejection(err); !ok || r.Kind != oplog.KindInvalidBody {
		t.Fatalf("bad tier: %v", err)
	}
	if after := f.covenantRefs(); after != before {
		t.Errorf("a refused memory moved refs:\n%s\n%s", before, after)
	}

	_, err = r.Append(context.Background(), []covenant.Draft{{Type: memory.OpForget, Body: memory.ForgetBody{ID: id, Reason: "superseded"}, Summary: id}})
	if err != nil {
		t.Fatal(err)
	}
	if m := memories(t, r)[id]; m.Forgotten == nil || m.Forgotten.Reason != "superseded" {
		t.Fatalf("after forget: %+v", m)
	}
	// Rebuilt from the feeds alone, the same state; verification is clean.
	if _, err := r.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := memories(t, r)[id]; m.Forgotten == nil || m.Text != "run make test before pushing" {
		t.Fatalf("after rebuild: %+v", m)
	}
	f.verifyClean()
}

// Drift names superseded memories, revoked authors and dangling pins;
// compaction promotes old episodic memories per the policy, and every
// change is reversible and kept in the memory's changes.
func TestMemoryDriftAndCompaction(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	ctx := context.Background()
	now := time.Now()
	clock := now
	svc, err := covenant.Open(ctx, covenant.Options{Dir: f.dir, Getenv: f.getenv, Env: f.env(), Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if _, err := f.keys().New("bob", identity.Agent, now); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RegisterIdentity(ctx, "bob", identity.Agent, strings.TrimSpace(f.mustCLI("id", "show", "bob")), []string{"memory.write"}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(f.dir, "a.txt"), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(f.dir, "b.txt"), []byte("b\n"), 0o644)
	add := func(s *covenant.Service, req covenant.MemoryAddRequest) *memory.Memory {
		t.Helper()
		m, err := s.AddMemory(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	old := add(svc.As("bob"), covenant.MemoryAddRequest{Tier: "longterm", Text: "a is parsed twice", Pins: []covenant.PinSpec{{Path: "a.txt"}}})
	clock = clock.Add(time.Second)
	newer := add(svc, covenant.MemoryAddRequest{Tier: "longterm", Text: "a is parsed once now", Pins: []covenant.PinSpec{{Path: "a.txt"}}})
	gone := add(svc, covenant.MemoryAddRequest{Tier: "episodic", Text: "b was added for the demo", Pins: []covenant.PinSpec{{Path: "b.txt"}}})
	os.Remove(filepath.Join(f.dir, "b.txt"))
	if err := svc.RevokeIdentity(ctx, "bob", "left the project"); err != nil {
		t.Fatal(err)
	}
	ds, err := svc.MemoryDrift(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range ds {
		got[d.Memory+" "+d.Kind] = d.Detail
	}
	for _, want := range []string{old.ID + " " + covenant.DriftSuperseded, old.ID + " " + covenant.DriftAuthorRevoked, gone.ID + " " + covenant.DriftDangling} {
		if _, ok := got[want]; !ok {
			t.Errorf("drift lacks %s: %v", want, got)
		}
	}
	if _, ok := got[newer.ID+" "+covenant.DriftSuperseded]; ok || len(ds) != 3 {
		t.Errorf("drift: %v", got)
	}

	// Two days later, with episodic memories promoted after a day.
	cfgPath := filepath.Join(f.dir, ".covenant", "config.toml")
	raw, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, append(raw, []byte("\n[memory]\nepisodic_days = 1\nepisodic = \"promote\"\n")...), 0o644)
	clock = clock.Add(48 * time.Hour)
	rep, err := svc.CompactMemories(ctx, true)
	if err != nil || len(rep.Actions) != 1 || rep.Actions[0].Memory != gone.ID || rep.Actions[0].Action != "promote" || rep.Written != 0 {
		t.Fatalf("dry run: %+v %v", rep, err)
	}
	if rep, err = svc.CompactMemories(ctx, false); err != nil || rep.Written != 1 {
		t.Fatalf("compact: %+v %v", rep, err)
	}
	m, err := svc.Memory(ctx, gone.ID)
	if err != nil || m.Tier != "longterm" || len(m.Changes) != 1 || m.Changes[0].Tier != "episodic" {
		t.Fatalf("promoted: %+v %v", m, err)
	}
	if rep, err = svc.CompactMemories(ctx, false); err != nil || len(rep.Actions) != 0 {
		t.Errorf("compaction is not idempotent: %+v %v", rep, err)
	}
	// Forget and restore; search finds it again.
	if _, err := svc.ChangeMemory(ctx, memory.OpForget, memory.ChangeBody{ID: newer.ID[:8], Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if hits, _ := svc.SearchMemories(ctx, "parsed once", 10, false); len(hits) != 0 {
		t.Errorf("search finds a forgotten memory: %+v", hits)
	}
	if hits, _ := svc.SearchMemories(ctx, "parsed once", 10, true); len(hits) != 1 {
		t.Errorf("search --all: %+v", hits)
	}
	if _, err := svc.ChangeMemory(ctx, memory.OpRestore, memory.ChangeBody{ID: newer.ID, Reason: "still true"}); err != nil {
		t.Fatal(err)
	}
	hits, err := svc.SearchMemories(ctx, "PARSED", 10, false)
	if err != nil || len(hits) != 2 || hits[0].Memory.ID != newer.ID {
		t.Errorf("search after restore: %+v %v", hits, err)
	}
	if _, err := svc.Memory(ctx, "mem-ffffffffffff"); !errors.Is(err, covenant.ErrNoMemory) {
		t.Errorf("unknown memory: %v", err)
	}
	f.verifyClean()
}
