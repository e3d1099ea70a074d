package covenant_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/memory"
)

// scanSearch is memory search as a scan of every memory (the algorithm
// before posting lists, ADR 0018): every memory's terms, the rarity of
// each query term over all memories, the hits holding every term, ranked.
func scanSearch(t *testing.T, r *covenant.Service, query string, limit int, all bool) []covenant.MemoryHit {
	t.Helper()
	seen := map[string]bool{}
	var terms []string
	for _, w := range memory.Tokens(query) {
		if !seen[w] {
			seen[w] = true
			terms = append(terms, w)
		}
	}
	var ids []string
	ms := memories(t, r)
	for id := range ms {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	df := make([]int, len(terms))
	var hits []string
	for _, id := range ids {
		m := ms[id]
		has := map[string]bool{}
		for _, w := range memory.Terms(&m) {
			has[w] = true
		}
		ok := true
		for i, w := range terms {
			if has[w] {
				df[i]++
			} else {
				ok = false
			}
		}
		if ok {
			hits = append(hits, id)
		}
	}
	var idf float64
	for _, d := range df {
		if d == 0 {
			continue
		}
		r := float64(len(ids)+1) / float64(d)
		for r > 1 {
			r /= 2
			idf++
		}
	}
	out := []covenant.MemoryHit{}
	for _, id := range hits {
		m := ms[id]
		if !all && !m.Live() {
			continue
		}
		score := idf
		if m.Tier == "longterm" {
			score += 0.5
		}
		if m.Stale != nil {
			score -= 0.5
		}
		out = append(out, covenant.MemoryHit{Memory: m, Score: score})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Memory.At.After(out[j].Memory.At)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Search through the postings finds exactly what a scan of every memory
// finds, in the same order with the same scores, on random memories that
// were then forgotten, restored, marked stale and promoted at random, for
// random queries (common, rare and absent words, repeated words, mixed
// case), before and after a rebuild of the index.
func TestMemorySearchMatchesScan(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	r := f.open()
	ctx := context.Background()
	rnd := rand.New(rand.NewSource(18))
	word := func() string { return fmt.Sprintf("w%d", int(rnd.ExpFloat64()*6)%40) }
	var ids []string
	tier := map[string]string{}
	for batch := 0; batch < 4; batch++ {
		var ds []covenant.Draft
		for i := 0; i < 60; i++ {
			ws := make([]string, 3+rnd.Intn(8))
			for j := range ws {
				ws[j] = word()
			}
			b := memory.AddBody{Tier: memory.Tiers[rnd.Intn(3)], Text: strings.Join(ws, " "), Tags: []string{word()}}
			ds = append(ds, covenant.Draft{Type: memory.OpAdd, Body: b, Summary: b.Text})
		}
		w, err := r.Append(ctx, ds)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range w.Entries {
			id := memory.NewID(e.Op.Actor, e.Op.Seq)
			ids = append(ids, id)
			tier[id] = ds[i].Body.(memory.AddBody).Tier
		}
	}
	var ds []covenant.Draft
	forgotten := map[string]bool{}
	for _, id := range ids {
		switch rnd.Intn(6) {
		case 0:
			ds = append(ds, covenant.Draft{Type: memory.OpForget, Body: memory.ForgetBody{ID: id, Reason: "old"}, Summary: id})
			forgotten[id] = true
		case 1:
			ds = append(ds, covenant.Draft{Type: memory.OpMark, Body: memory.ChangeBody{ID: id, Stale: true, Reason: "drifted"}, Summary: id})
		case 2:
			if tier[id] == "longterm" {
				continue
			}
			ds = append(ds, covenant.Draft{Type: memory.OpPromote, Body: memory.ChangeBody{ID: id, Tier: "longterm", Reason: "keep"}, Summary: id})
		}
	}
	if _, err := r.Append(ctx, ds); err != nil {
		t.Fatal(err)
	}
	ds = nil
	for id := range forgotten {
		if rnd.Intn(2) == 0 {
			ds = append(ds, covenant.Draft{Type: memory.OpRestore, Body: memory.ChangeBody{ID: id, Reason: "back"}, Summary: id})
		}
	}
	if _, err := r.Append(ctx, ds); err != nil {
		t.Fatal(err)
	}

	queries := []string{"W0", "w1 w0", "w0 w0 w2", "w39", "nothing", "w3 nothing", "w5 w7 w1"}
	for i := 0; i < 40; i++ {
		q := make([]string, 1+rnd.Intn(3))
		for j := range q {
			q[j] = word()
		}
		queries = append(queries, strings.Join(q, " "))
	}
	check := func(when string) {
		nonEmpty := 0
		for _, q := range queries {
			for _, all := range []bool{false, true} {
				limit := 1 + rnd.Intn(30)
				got, err := r.SearchMemories(ctx, q, limit, all)
				if err != nil {
					t.Fatal(err)
				}
				want := scanSearch(t, r, q, limit, all)
				if !reflect.DeepEqual(got, want) {
					g, _ := json.Marshal(got)
					w, _ := json.Marshal(want)
					t.Fatalf("%s: search %q limit %d all %v:\n got %s\nwant %s", when, q, limit, all, g, w)
				}
				if len(got) > 0 {
					nonEmpty++
				}
			}
		}
		if nonEmpty < len(queries) {
			t.Fatalf("%s: only %d of %d searches found anything: the comparison proves little", when, nonEmpty, 2*len(queries))
		}
	}
	check("incremental index")
	if _, err := r.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	check("rebuilt index")

	// A memory by unique prefix, and an ambiguous prefix.
	m, err := r.Memory(ctx, strings.TrimPrefix(ids[7], "mem-")[:10])
	if err != nil || m.ID != ids[7] {
		t.Fatalf("memory by prefix: %v %v", m, err)
	}
	if _, err := r.Memory(ctx, "mem-"); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("ambiguous (%d memories)", len(ids))) {
		t.Fatalf("ambiguous prefix: %v", err)
	}
}
