package covenant

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/memory"
	"github.com/git-covenant/git-covenant/tasks"
)

// PackMemory is a memory as a context pack or primer shows it.
type PackMemory struct {
	ID    string    `json:"id"`
	Tier  string    `json:"tier"`
	Text  string    `json:"text"` // cut to MemoryTextCut with "…" when longer
	Why   string    `json:"why"`  // task, pinned <path>, tag <t>, project
	Stale bool      `json:"stale,omitempty"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`
}

// Budgets, in tokens (about four bytes of text each), for the memories a
// context pack and a primer carry, and the longest text one memory shows.
const (
	PackMemoryTokens  = 400
	PrimeMemoryTokens = 200
	MemoryTextCut     = 400
)

// relevant ranks the live memories for a task (nil: for the repository
// as a whole) and keeps the best within budget tokens: the task's own
// memories first, then those pinned to files the task's handoffs pinned,
// those tagged with one of its labels, then long-term project memory;
// fresher first within a rank, stale ones last.
func (s *Service) relevant(ctx context.Context, t *tasks.Task, labels []string, budget int) ([]PackMemory, error) {
	ms, err := s.Memories(ctx, MemoryFilter{})
	if err != nil {
		return nil, err
	}
	files := map[string]bool{}
	if t != nil && t.Handoff != nil {
		for _, f := range t.Handoff.Files {
			files[f.Path] = true
		}
	}
	type ranked struct {
		m    *memory.Memory
		rank int
		why  string
	}
	var rs []ranked
	for i := range ms {
		m := &ms[i]
		r := ranked{m: m}
		switch {
		case t != nil && m.Task == t.ID:
			r.rank, r.why = 4, "task"
		case m.Task != "" && m.Tier == "working":
			continue // another task's scratch notes
		}
		if r.rank == 0 {
			for _, p := range m.Pins {
				if files[p.Path] {
					r.rank, r.why = 3, "pinned "+p.Path
					break
				}
			}
		}
		if r.rank == 0 {
			for _, tag := range m.Tags {
				if contains(labels, tag) {
					r.rank, r.why = 2, "tag "+tag
					break
				}
			}
		}
		if r.rank == 0 && m.Tier == "longterm" && m.Task == "" {
			r.rank, r.why = 1, "project"
		}
		if r.rank == 0 {
			continue
		}
		rs = append(rs, r)
	}
	sort.SliceStable(rs, func(i, j int) bool {
		si, sj := rs[i].m.Stale != nil, rs[j].m.Stale != nil
		if si != sj {
			return !si
		}
		return rs[i].rank > rs[j].rank // ms is newest first already
	})
	out := []PackMemory{}
	used := 0
	for _, r := range rs {
		text := r.m.Text
		if len(text) > MemoryTextCut {
			text = cutText(text, MemoryTextCut) + "…"
		}
		// As JSON: the values and about 90 bytes of keys, quotes and time.
		cost := (len(text) + len(r.why) + len(r.m.ID) + len(r.m.By.Name) + 90) / 4
		if used+cost > budget {
			continue
		}
		used += cost
		out = append(out, PackMemory{ID: r.m.ID, Tier: r.m.Tier, Text: text, Why: r.why, Stale: r.m.Stale != nil, By: r.m.By.Name, At: r.m.At})
	}
	return out, nil
}

// cutText cuts s to at most n bytes on a rune boundary, at a space if one
// is near.
func cutText(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	s = s[:n]
	if i := strings.LastIndexByte(s, ' '); i > n*3/4 {
		s = s[:i]
	}
	return s
}
