package covenant_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/git-covenant/git-covenant/covenant"
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
