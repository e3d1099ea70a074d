package covenant

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/tasks"
)

// LogEntry is one op as `git covenant log` shows it: where it sits in the
// fold order, who made it and, if the fold ignored it, why.
type LogEntry = index.LogEntry

// TaskDetail is a task as `task show` shows it: the folded task, the ops
// on it the fold ignored, and the leases lost to another actor.
type TaskDetail struct {
	Task    *tasks.Task
	Ignored []LogEntry
	Lost    []LostLease
	raw     []byte // the task's stored JSON
}

// MarshalJSON writes the task's stored JSON as it is, with "ignored_ops"
// and "lost_leases" added when the fold ignored any op on it.
func (d *TaskDetail) MarshalJSON() ([]byte, error) {
	if len(d.Ignored) == 0 {
		return d.raw, nil
	}
	ig, err := json.Marshal(d.Ignored)
	if err != nil {
		return nil, err
	}
	lost, err := json.Marshal(d.Lost)
	if err != nil {
		return nil, err
	}
	raw := bytes.TrimRight(d.raw, " \n")
	out := append([]byte(nil), raw[:len(raw)-1]...)
	out = append(out, `,"ignored_ops":`...)
	out = append(out, ig...)
	out = append(out, `,"lost_leases":`...)
	out = append(out, lost...)
	return append(out, '}'), nil
}

// ShowTask returns a task by id or unique prefix with the ops on it the
// fold ignored.
func (s *Service) ShowTask(ctx context.Context, idOrPrefix string) (*TaskDetail, error) {
	d := &TaskDetail{}
	err := s.read(ctx, func(ix *index.Index) error {
		raw, err := ix.TaskJSON(idOrPrefix)
		if err != nil {
			return err
		}
		d.raw = raw
		if err := json.Unmarshal(raw, &d.Task); err != nil {
			return err
		}
		d.Ignored, err = ix.RejectedOps(d.Task.ID, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	d.Lost = lostLeases(d.Task, d.Ignored)
	return d, nil
}

// LostLease is a claim (or an op under a lease) the fold ignored because
// another actor held the lease at that epoch: the loser of a race between
// clones, as task show reports it.
type LostLease struct {
	Op       string    `json:"op"`
	Type     string    `json:"type"`
	By       string    `json:"by"`
	Epoch    uint64    `json:"epoch"`
	At       time.Time `json:"at"`
	Holder   string    `json:"holder"`
	HolderAt time.Time `json:"holder_since"`
	Reason   string    `json:"reason"`
}

// lostLeases pairs ignored ops carrying an epoch with the lease another
// actor held at that epoch.
func lostLeases(t *tasks.Task, rejected []LogEntry) []LostLease {
	out := []LostLease{}
	for _, le := range rejected {
		if le.Epoch == 0 {
			continue
		}
		for _, l := range t.Leases {
			if l.Epoch == le.Epoch && l.Key != le.Actor.Key {
				ll := LostLease{Op: le.Op, Type: le.Type, By: le.Actor.Name, Epoch: le.Epoch, At: le.Time, Holder: l.Holder, HolderAt: l.AcquiredAt}
				if le.Rejected != nil {
					ll.Reason = le.Rejected.Kind + ": " + le.Rejected.Reason
				}
				out = append(out, ll)
			}
		}
	}
	return out
}

// EachTask calls fn with the stored JSON row of every task in creation
// order, and, when decoded is true, the decoded summary (filtering by
// state or label needs it; copying rows as they are does not).
func (s *Service) EachTask(ctx context.Context, decode bool, fn func(raw []byte, sum *tasks.Summary) error) error {
	return s.read(ctx, func(ix *index.Index) error {
		var sum tasks.Summary // one for all rows: a per-row value escapes and allocates
		return ix.EachSummary(func(raw []byte) error {
			if !decode {
				return fn(raw, nil)
			}
			sum = tasks.Summary{}
			if err := json.Unmarshal(raw, &sum); err != nil {
				return err
			}
			return fn(raw, &sum)
		})
	})
}

// EachLog calls fn with every op in fold order (only those on one task if
// task, an id or prefix, is not ""), as its stored JSON row and decoded.
func (s *Service) EachLog(ctx context.Context, task string, fn func(raw []byte, e *LogEntry) error) error {
	return s.read(ctx, func(ix *index.Index) error {
		if task != "" {
			t, err := ix.Task(task)
			if err != nil {
				return err
			}
			task = t.ID
		}
		return ix.EachLog(func(raw []byte) error {
			var e LogEntry
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			if task != "" && e.Task != task {
				return nil
			}
			return fn(raw, &e)
		})
	})
}

// EachRecord calls fn with every record of a kind that an op family
// stored in the folded state (memory.Kind, ...), by key.
func (s *Service) EachRecord(ctx context.Context, kind string, fn func(key string, raw []byte) error) error {
	return s.read(ctx, func(ix *index.Index) error { return ix.EachRecord(kind, fn) })
}

// LogAfter calls fn with every op after the fold-order key after (a
// LogEntry's Order; "" for all), in fold order. An op that sorts before
// after (a synced feed whose Lamport clock lagged) is not seen by it.
func (s *Service) LogAfter(ctx context.Context, after string, fn func(raw []byte, e *LogEntry) error) error {
	return s.read(ctx, func(ix *index.Index) error {
		return ix.EachLogAfter(after, func(raw []byte) error {
			var e LogEntry
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			return fn(raw, &e)
		})
	})
}

// LastLogOrder is the fold-order key of the last op ("" if none): where a
// stream of new ops starts.
func (s *Service) LastLogOrder(ctx context.Context) (string, error) {
	var last string
	err := s.read(ctx, func(ix *index.Index) (err error) {
		last, err = ix.LastLogKey()
		return err
	})
	return last, err
}
