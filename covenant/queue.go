package covenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// ErrNothingReady means the ready queue has no claimable task.
var ErrNothingReady = errors.New("no ready task")

// readyFilter keeps a queued row if its lease is not active and it has the
// label; rows are decoded only to filter by label or to return the id.
func readyFilter(until int64, raw []byte, label string, now time.Time) (bool, error) {
	if until > now.Unix() {
		return false, nil
	}
	if label == "" {
		return true, nil
	}
	var s tasks.Summary
	if err := json.Unmarshal(raw, &s); err != nil {
		return false, err
	}
	return contains(s.Labels, label), nil
}

// Ready calls fn with each ready task's JSON row: unclaimed (no active
// lease), claimable, every blocker finished; highest priority, then oldest,
// first.
func (s *Service) Ready(ctx context.Context, label string, fn func(raw []byte) error) error {
	now := s.now()
	return s.read(ctx, func(ix *index.Index) error {
		return ix.EachReady(func(until int64, raw []byte) (bool, error) {
			ok, err := readyFilter(until, raw, label, now)
			if err != nil || !ok {
				return true, err
			}
			return true, fn(raw)
		})
	})
}

// startNext atomically claims the top ready task: under the writer lock,
// so two concurrent callers never get the same task.
func (s *Service) startNext(ctx context.Context, label string, ttl time.Duration) (*tasks.Task, error) {
	w, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		now := s.now()
		var id string
		err := tx.EachReady(func(until int64, raw []byte) (bool, error) {
			ok, err := readyFilter(until, raw, label, now)
			if err != nil || !ok {
				return true, err
			}
			var s tasks.Summary
			if err := json.Unmarshal(raw, &s); err != nil {
				return false, err
			}
			id = s.ID
			return false, nil
		})
		if err != nil {
			return nil, err
		}
		if id == "" {
			if label != "" {
				return nil, fmt.Errorf("%w with label %s", ErrNothingReady, label)
			}
			return nil, ErrNothingReady
		}
		t, err := tx.Task(id)
		if err != nil {
			return nil, err
		}
		return []Draft{claimDraft(t, ttl)}, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return w.Tasks[0], nil
}

// Current is the task this working tree works on, recorded by task start.
type Current struct {
	Task  string `json:"task"`
	Epoch uint64 `json:"epoch"`
	// Auto: the user opted in (task trailers --auto) to have the
	// prepare-commit-msg hook stamp every commit with this task's
	// trailers, not only commits that name it.
	Auto bool `json:"auto,omitempty"`
}

// OptInTrailers records that commits in this working tree get the
// trailers of task id (whose lease the acting identity must hold now)
// even when they do not name it.
func (s *Service) OptInTrailers(ctx context.Context, id string) (*tasks.Task, error) {
	t, err := s.Task(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := s.Trailers(ctx, t.ID); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(Current{Task: t.ID, Epoch: t.Lease.Epoch, Auto: true})
	return t, os.WriteFile(s.currentPath(), b, 0o644)
}

func (s *Service) currentPath() string {
	return filepath.Join(s.store().GitDir, "covenant-current.json")
}

func (s *Service) setCurrent(t *tasks.Task) error {
	if t.Lease == nil {
		return nil
	}
	b, _ := json.Marshal(Current{Task: t.ID, Epoch: t.Lease.Epoch})
	return os.WriteFile(s.currentPath(), b, 0o644)
}

// CurrentTask returns the task recorded by the last task start in this
// working tree, or nil.
func (s *Service) CurrentTask() (*Current, error) {
	b, err := os.ReadFile(s.currentPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c Current
	return &c, json.Unmarshal(b, &c)
}

// Trailers returns the commit trailers naming a task and the acting
// identity's current lease epoch on it.
func (s *Service) Trailers(ctx context.Context, idOrPrefix string) ([]string, error) {
	t, err := s.Task(ctx, idOrPrefix)
	if err != nil {
		return nil, err
	}
	id, err := s.Actor("")
	if err != nil {
		return nil, err
	}
	out := []string{"Covenant-Task: " + t.ID}
	if t.Lease.HeldBy(id.Name) && t.Lease.ActiveAt(s.now()) {
		out = append(out, "Covenant-Lease: "+strconv.FormatUint(t.Lease.Epoch, 10))
	} else {
		return out, noLease(t, &trust.Actor{KeyID: id.KeyID, Name: id.Name}, s.now())
	}
	return out, nil
}

// fenceCommits reports code commits reachable from HEAD and local branches
// whose Covenant-Lease trailer names a lease epoch under which no signed op
// of its holder, made while the lease was live, names the commit or a
// descendant of it (tasks.LeaseRecord.Vouched), and which no task.accept
// accepted. A commit under a lease that is still live is not judged yet.
// Committer dates, which anyone sets, play no part.
func (s *Service) fenceCommits(lookup func(string) *tasks.Task, checked []gitstore.Hash) ([]ledger.Finding, []gitstore.Hash, error) {
	starts := []gitstore.Hash{}
	if h, _, err := s.store().Head(); err == nil && !h.IsZero() {
		starts = append(starts, h)
	}
	branches, err := s.store().ListRefs("refs/heads/")
	if err != nil {
		return nil, nil, err
	}
	for _, h := range branches {
		starts = append(starts, h)
	}
	var out []ledger.Finding
	now, pending := s.now(), false
	err = s.store().WalkCommitsExcept(starts, checked, commitScanLimit, func(h gitstore.Hash, c *gitstore.Commit) bool {
		tr := oplog.Trailers(c.Message)
		tasksNamed, leases := tr["Covenant-Task"], tr["Covenant-Lease"]
		if len(leases) == 0 {
			return true
		}
		if len(tasksNamed) != 1 || len(leases) != 1 {
			out = append(out, ledger.Finding{Kind: "stale-lease-commit", Commit: h.String(),
				Reason: fmt.Sprintf("commit names %d task(s) and %d lease epoch(s); want exactly one of each", len(tasksNamed), len(leases))})
			return true
		}
		id, ep := tasksNamed[0], leases[0]
		bad := func(format string, args ...any) {
			out = append(out, ledger.Finding{Kind: "stale-lease-commit", Commit: h.String(), Op: id, Reason: fmt.Sprintf(format, args...)})
		}
		t := lookup(id)
		if t == nil {
			bad("commit names unknown task %s", id)
			return true
		}
		epoch, err := strconv.ParseUint(strings.TrimSpace(ep), 10, 64)
		if err != nil {
			bad("Covenant-Lease %q is not an epoch", ep)
			return true
		}
		var rec *tasks.LeaseRecord
		for i := range t.Leases {
			if t.Leases[i].Epoch == epoch {
				rec = &t.Leases[i]
			}
		}
		if rec == nil {
			bad("task %s never had lease epoch %d", id, epoch)
			return true
		}
		// Evidence, not dates (ADR 0010): the commit, or one it is an
		// ancestor of, was named by an op its lease holder signed under
		// the live lease; or someone independent accepted it.
		if vouchedFor(s.store(), h, rec.Vouched) || t.IsAccepted(h.String()) != nil {
			return true
		}
		if rec.EndedAt == nil && now.Before(rec.ExpiresAt) {
			pending = true // the holder may still name it
			return true
		}
		bad("lease epoch %d of %s (%s) ended with no op of its holder under it naming this commit or a descendant (handoff, check); its committer date (%s) proves nothing; 'git covenant task accept %s %s --reason <why>' by someone who never held the lease resolves it",
			epoch, id, rec.Holder, c.Committer.When.Format(time.RFC3339), id, h.String())
		return true
	})
	if pending {
		// Commits still under a live lease are looked at again next time.
		starts = checked
	}
	return out, starts, err
}

// vouchedFor reports whether h is one of the vouched commits or an
// ancestor of one.
func vouchedFor(st *gitstore.Store, h gitstore.Hash, vouched []string) bool {
	for _, v := range vouched {
		vh, err := gitstore.ParseHash(v)
		if err != nil {
			continue
		}
		if vh == h {
			return true
		}
		if ok, err := st.IsAncestor(h, vh); err == nil && ok {
			return true
		}
	}
	return false
}
