package covenant

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/memory"
	"github.com/git-covenant/git-covenant/trust"
)

// Kinds of drift a memory can have.
const (
	DriftPinChanged    = "pin-changed"    // a pinned file's blob changed since
	DriftTaskEnded     = "task-ended"     // a working memory of a finished or cancelled task
	DriftAuthorRevoked = "author-revoked" // its author's key or identity was revoked
	DriftSuperseded    = "superseded"     // a newer memory pins the same file
	DriftDangling      = "dangling"       // its task or a pinned file no longer exists
)

// Drift is one reason a live memory may be out of date.
type Drift struct {
	Memory  string `json:"memory"`
	Tier    string `json:"tier"`
	Kind    string `json:"kind"`
	Path    string `json:"path,omitempty"`    // pin-changed, superseded, dangling (file)
	Pinned  string `json:"pinned,omitempty"`  // the blob pinned
	Current string `json:"current,omitempty"` // the blob now ("" : gone)
	Task    string `json:"task,omitempty"`
	State   string `json:"state,omitempty"` // task-ended: the task's state
	By      string `json:"by,omitempty"`    // superseded: the newer memory; author-revoked: the author
	Stale   bool   `json:"stale"`           // already marked stale
	Detail  string `json:"detail"`
}

// MemoryDrift reports, for every live memory, what may have made it out of
// date: pinned files whose blob changed, working memories of ended tasks,
// revoked authors, memories superseded by a newer one pinning the same
// file, and references to tasks or files that no longer exist. Ordered by
// memory, newest first.
func (s *Service) MemoryDrift(ctx context.Context) ([]Drift, error) {
	ms, err := s.Memories(ctx, MemoryFilter{})
	if err != nil {
		return nil, err
	}
	wf, err := s.Workflow()
	if err != nil {
		return nil, err
	}
	tree := s.headTree()
	out := []Drift{}
	newest := map[string]*memory.Memory{} // pin path -> newest live memory pinning it
	err = s.read(ctx, func(ix *index.Index) error {
		st := ix.State()
		for i := range ms {
			m := &ms[i]
			d := func(kind, detail string) Drift {
				return Drift{Memory: m.ID, Tier: m.Tier, Kind: kind, Stale: m.Stale != nil, Detail: detail}
			}
			for _, p := range m.Pins {
				cur, err := s.currentBlob(tree, p.Path)
				if err != nil {
					return err
				}
				switch {
				case cur == "":
					x := d(DriftDangling, "pinned file "+p.Path+" no longer exists")
					x.Path, x.Pinned = p.Path, p.Blob
					out = append(out, x)
				case cur != p.Blob:
					x := d(DriftPinChanged, fmt.Sprintf("%s changed since it was pinned (%.12s -> %.12s)", p.Path, p.Blob, cur))
					x.Path, x.Pinned, x.Current = p.Path, p.Blob, cur
					out = append(out, x)
				}
				if n := newest[p.Path]; n != nil && n.ID != m.ID {
					x := d(DriftSuperseded, fmt.Sprintf("%s, newer, also pins %s", n.ID, p.Path))
					x.Path, x.By = p.Path, n.ID
					out = append(out, x)
				} else if n == nil {
					newest[p.Path] = m // ms is newest first
				}
			}
			if m.Task != "" {
				t, err := ix.Task(m.Task)
				if err != nil || t == nil {
					x := d(DriftDangling, "task "+m.Task+" does not exist")
					x.Task = m.Task
					out = append(out, x)
				} else if m.Tier == "working" && wf.IsFinal(t.State) {
					x := d(DriftTaskEnded, fmt.Sprintf("task %s is %s", t.ID, t.State))
					x.Task, x.State = t.ID, t.State
					out = append(out, x)
				}
			}
			if revoked, err := authorRevoked(st, m); err != nil {
				return err
			} else if revoked {
				x := d(DriftAuthorRevoked, "its author "+m.By.Name+" was revoked")
				x.By = m.By.Name
				out = append(out, x)
			}
		}
		return nil
	})
	return out, err
}

func authorRevoked(st trust.State, m *memory.Memory) (bool, error) {
	a, err := st.Actor(m.By.Key)
	if err != nil {
		return false, err
	}
	if a != nil && a.Retired == "revoked" {
		return true, nil
	}
	p, err := st.Principal(m.By.Name)
	if err != nil {
		return false, err
	}
	return p != nil && p.Revoked != nil, nil
}

// Compaction is one op memory compact writes (or would, with --dry-run).
type Compaction struct {
	Memory string `json:"memory"`
	Tier   string `json:"tier"`
	Action string `json:"action"` // forget, promote, mark-stale
	Reason string `json:"reason"`
}

// CompactReport is what memory compact did.
type CompactReport struct {
	DryRun  bool         `json:"dry_run"`
	Actions []Compaction `json:"actions"`
	Written int          `json:"written"` // ops signed
}

// CompactMemories applies the [memory] policy of the config: working
// memories of ended tasks are forgotten (working = "drop"), episodic ones
// older than episodic_days are forgotten or promoted to long-term, and
// long-term ones whose pins drifted are marked stale. It writes one batch
// of signed ops; memory restore undoes a forget, and history keeps every
// memory as it was written.
func (s *Service) CompactMemories(ctx context.Context, dryRun bool) (*CompactReport, error) {
	cfg, err := s.requireConfig()
	if err != nil {
		return nil, err
	}
	pol := cfg.MemoryPolicy()
	drift, err := s.MemoryDrift(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := s.Memories(ctx, MemoryFilter{})
	if err != nil {
		return nil, err
	}
	rep := &CompactReport{DryRun: dryRun, Actions: []Compaction{}}
	done := map[string]bool{}
	for _, d := range drift {
		switch {
		case d.Kind == DriftTaskEnded && pol.Working == "drop" && !done[d.Memory]:
			done[d.Memory] = true
			rep.Actions = append(rep.Actions, Compaction{d.Memory, d.Tier, "forget", fmt.Sprintf("compact: task %s is %s", d.Task, d.State)})
		case d.Kind == DriftPinChanged && d.Tier == "longterm" && pol.LongtermDrift == "stale" && !d.Stale && !done[d.Memory]:
			done[d.Memory] = true
			rep.Actions = append(rep.Actions, Compaction{d.Memory, d.Tier, "mark-stale", "compact: " + d.Detail})
		}
	}
	if pol.EpisodicDays > 0 {
		cutoff := s.now().Add(-time.Duration(pol.EpisodicDays) * 24 * time.Hour)
		for _, m := range ms {
			if m.Tier == "episodic" && m.At.Before(cutoff) && !done[m.ID] {
				done[m.ID] = true
				act := "forget"
				if pol.Episodic == "promote" {
					act = "promote"
				}
				rep.Actions = append(rep.Actions, Compaction{m.ID, m.Tier, act, fmt.Sprintf("compact: episodic, older than %d days", pol.EpisodicDays)})
			}
		}
	}
	sort.SliceStable(rep.Actions, func(i, j int) bool { return rep.Actions[i].Memory < rep.Actions[j].Memory })
	if dryRun || len(rep.Actions) == 0 {
		return rep, nil
	}
	drafts := make([]Draft, len(rep.Actions))
	for i, a := range rep.Actions {
		switch a.Action {
		case "forget":
			drafts[i] = Draft{Type: memory.OpForget, Body: memory.ForgetBody{ID: a.Memory, Reason: a.Reason}}
		case "promote":
			drafts[i] = Draft{Type: memory.OpPromote, Body: memory.ChangeBody{ID: a.Memory, Tier: "longterm", Reason: a.Reason}}
		default:
			drafts[i] = Draft{Type: memory.OpMark, Body: memory.ChangeBody{ID: a.Memory, Stale: true, Reason: a.Reason}}
		}
		drafts[i].Summary = a.Memory + " " + a.Reason
	}
	w, err := s.write(ctx, func(*index.Tx, *trust.Actor) ([]Draft, error) { return drafts, nil }, nil)
	if err != nil {
		return nil, err
	}
	rep.Written = len(w.Entries)
	return rep, nil
}
