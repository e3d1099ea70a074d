package covenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/runs"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// What the daemon needs from the service: claims that do not touch the
// working tree's current task, run records, handoffs built from a run's
// branch, worktrees, and the state directory of this clone.

// CovenantDir is this clone's local state directory (.git/covenant),
// created if missing: the index, the daemon's lock, log, socket and runs.
func (s *Service) CovenantDir() (string, error) { return s.store().CovenantDir() }

// RefsDirs are the directories and files whose changes mean the feeds may
// have moved: the covenant refs directory (loose refs, at any depth) and
// the common git directory (packed-refs is rewritten there).
func (s *Service) RefsDirs() (refs, common string) {
	c := s.store().CommonDir
	return filepath.Join(c, "refs", "covenant"), c
}

// ClaimForRun claims a task under a lease for a run, as the acting
// identity, strongly through the remote via when it is not "". Unlike
// StartTask it leaves the working tree's current task alone: the run works
// in a worktree of its own.
func (s *Service) ClaimForRun(ctx context.Context, task string, ttl time.Duration, via string) (*tasks.Task, error) {
	if err := checkTTL(ttl); err != nil {
		return nil, err
	}
	if via != "" {
		return s.startVia(ctx, task, ttl, via)
	}
	return s.taskOp(ctx, task, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return claimDraft(t, ttl), nil
	})
}

// RecordRun writes a run.record op for a task as the acting identity (a
// daemon), with the run's capped output as the artifact output.txt, and
// returns the record as folded.
func (s *Service) RecordRun(ctx context.Context, task string, b runs.RecordBody, output []byte) (*runs.Record, error) {
	if err := b.Check(); err != nil {
		return nil, err
	}
	arts := map[string][]byte{}
	if len(output) > 0 {
		arts["output.txt"] = output
	}
	if _, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
		id, err := tx.ResolveTask(task)
		if err != nil {
			return nil, err
		}
		return []Draft{{Type: runs.OpRecord, Task: id, Body: b, Summary: b.Summary(), Artifacts: arts}}, nil
	}, nil); err != nil {
		return nil, err
	}
	var rec *runs.Record
	err := s.read(ctx, func(ix *index.Index) error {
		return ix.EachRecord(runs.Kind, func(key string, raw []byte) error {
			if key != b.Run {
				return nil
			}
			rec = &runs.Record{}
			return json.Unmarshal(raw, rec)
		})
	})
	if err == nil && rec == nil {
		err = fmt.Errorf("run %s was written but not folded", b.Run)
	}
	return rec, err
}

// Runs returns the run records of a task (an id or prefix; "" for every
// task), oldest first.
func (s *Service) Runs(ctx context.Context, task string) ([]*runs.Record, error) {
	if task != "" {
		id, err := s.ResolveID(ctx, task)
		if err != nil {
			return nil, err
		}
		task = id
	}
	out := []*runs.Record{}
	err := s.read(ctx, func(ix *index.Index) error {
		return ix.EachRecord(runs.Kind, func(_ string, raw []byte) error {
			var r runs.Record
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			if task == "" || r.Task == task {
				out = append(out, &r)
			}
			return nil
		})
	})
	sortRuns(out)
	return out, err
}

func sortRuns(rs []*runs.Record) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].At.Before(rs[j-1].At); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// RunHandoff records a handoff the run's side built (its commits, head and
// branch filled in by the caller from the run's worktree), under the lease
// the acting identity holds.
func (s *Service) RunHandoff(ctx context.Context, task string, h tasks.Handoff) (*tasks.Task, error) {
	if err := h.Check(); err != nil {
		return nil, err
	}
	return s.taskOp(ctx, task, func(_ *index.Tx, t *tasks.Task, me *trust.Actor, now time.Time) (Draft, error) {
		return Draft{Type: tasks.OpHandoff, Epoch: heldEpoch(t, me, now), Body: h, Summary: h.Summary}, nil
	})
}

// EnsureIdentity returns the keystore's identity name, creating it with
// role if the keystore lacks it (created says so), and what the feeds say
// of its key (an empty, untrusted actor if nothing yet).
func (s *Service) EnsureIdentity(ctx context.Context, name string, role identity.Role) (a *trust.Actor, created bool, err error) {
	id, err := s.c.keys.Get(name)
	if errors.Is(err, identity.ErrNotFound) || errors.Is(err, identity.ErrNoIdentity) {
		if id, err = s.c.keys.New(name, role, s.now()); err != nil {
			return nil, false, err
		}
		created = true
	}
	if err != nil {
		return nil, false, err
	}
	if id.Role != role {
		return nil, false, fmt.Errorf("%w: identity %s has role %s, want %s", identity.ErrBadRole, name, id.Role, role)
	}
	a, err = s.ActorState(ctx, name)
	return a, created, err
}

// ActorState is what the feeds say of a keystore identity's current key.
func (s *Service) ActorState(ctx context.Context, name string) (*trust.Actor, error) {
	id, err := s.c.keys.Get(name)
	if err != nil {
		return nil, err
	}
	var a *trust.Actor
	err = s.read(ctx, func(ix *index.Index) (err error) {
		a, err = ix.Actor(id.KeyID())
		return err
	})
	if a != nil && a.Key == "" {
		a.Key, a.Name = identity.FormatPublicKey(id.PublicKey), name
	}
	return a, err
}

// Worktree is a checkout of a run's branch.
type Worktree struct {
	Dir    string `json:"dir"`
	Branch string `json:"branch"`
	Base   string `json:"base"` // the commit the branch started from (or had when reused)
}

// AddWorktree checks out branch in dir, creating the branch at base when it
// does not exist (an existing branch is reused: a later run continues the
// work). A stale worktree registration for dir is pruned first.
func (s *Service) AddWorktree(ctx context.Context, dir, branch, base string) (*Worktree, error) {
	s.c.wtMu.Lock()
	defer s.c.wtMu.Unlock()
	g := s.store().Git().WithDir(s.gitWorkDir())
	// A `worktree add` killed with its daemon leaves its registration
	// locked ("initializing"): prune skips it and add refuses the path, so
	// the lock is lifted first (the daemon owns these directories).
	g.Output(ctx, []string{"worktree", "unlock", dir})
	if _, err := os.Stat(dir); err == nil {
		g.Output(ctx, []string{"worktree", "remove", "--force", "--force", dir})
		os.RemoveAll(dir)
	}
	g.Output(ctx, []string{"worktree", "prune"})
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	ref := "refs/heads/" + branch
	var args []string
	if _, err := g.Output(ctx, []string{"rev-parse", "--verify", "-q", ref}); err == nil {
		args = []string{"worktree", "add", "-q", dir, branch}
	} else {
		if base == "" {
			base = "HEAD"
		}
		args = []string{"worktree", "add", "-q", "-b", branch, dir, base + "^{commit}"}
	}
	if _, err := g.Output(ctx, args); err != nil {
		return nil, err
	}
	out, err := g.Output(ctx, []string{"rev-parse", ref})
	if err != nil {
		return nil, err
	}
	return &Worktree{Dir: dir, Branch: branch, Base: strings.TrimSpace(string(out))}, nil
}

// RemoveWorktree removes a run's checkout; its branch stays.
func (s *Service) RemoveWorktree(ctx context.Context, dir string) error {
	s.c.wtMu.Lock()
	defer s.c.wtMu.Unlock()
	g := s.store().Git().WithDir(s.gitWorkDir())
	_, err := g.Output(ctx, []string{"worktree", "remove", "--force", "--force", dir})
	if err != nil {
		os.RemoveAll(dir)
		g.Output(ctx, []string{"worktree", "prune"})
	}
	return nil
}

// BranchCommits returns a branch's tip and the commits on it since base,
// newest first (at most runs.MaxCommits).
func (s *Service) BranchCommits(ctx context.Context, base, branch string) (string, []string, error) {
	g := s.store().Git().WithDir(s.gitWorkDir())
	out, err := g.Output(ctx, []string{"rev-parse", "refs/heads/" + branch})
	if err != nil {
		return "", nil, err
	}
	head := strings.TrimSpace(string(out))
	if base == "" || base == head {
		return head, []string{}, nil
	}
	out, err = g.Output(ctx, []string{"rev-list", fmt.Sprintf("--max-count=%d", runs.MaxCommits), base + ".." + head})
	if err != nil {
		return head, nil, err
	}
	return head, strings.Fields(string(out)), nil
}

// KeystoreDir is the directory of the local keystore (a sandbox hides it
// from agents).
func (s *Service) KeystoreDir() string { return s.c.keys.Dir }

// WorktreeAdminDir is the administrative directory git keeps for a linked
// worktree (.git/worktrees/<name>), read from the worktree's .git file.
func (s *Service) WorktreeAdminDir(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, ".git"))
	if err != nil {
		return "", err
	}
	p, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
	if !ok {
		return "", fmt.Errorf("%s/.git is not a linked worktree's", dir)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p), nil
}

// RunStart is the commit a run's branch starts from without asking git:
// the branch's tip when it exists, else base ("" is HEAD) when it is a
// branch name, a full ref name or a commit id. ok is false when that
// takes git (a tag, a revision expression) or the ref is missing.
func (s *Service) RunStart(branch, base string) (commit string, ok bool) {
	st := s.store()
	if branch != "" {
		if h, found, err := st.ReadRef("refs/heads/" + branch); err == nil && found {
			return h.String(), true
		}
	}
	switch {
	case base == "" || base == "HEAD":
		h, _, err := st.Head()
		if err != nil || h.IsZero() {
			return "", false
		}
		return h.String(), true
	case len(base) == 40:
		if h, err := gitstore.ParseHash(base); err == nil {
			return h.String(), true
		}
	}
	for _, name := range []string{base, "refs/heads/" + base, "refs/remotes/" + base} {
		if !strings.HasPrefix(name, "refs/") {
			continue
		}
		if h, found, err := st.ReadRef(name); err == nil && found {
			if _, err := st.ReadCommit(h); err != nil {
				return "", false // an annotated tag or not a commit: git peels it
			}
			return h.String(), true
		}
	}
	return "", false
}

// ResolveRunStart is RunStart, asking git when it must.
func (s *Service) ResolveRunStart(ctx context.Context, branch, base string) (string, error) {
	if c, ok := s.RunStart(branch, base); ok {
		return c, nil
	}
	if base == "" {
		base = "HEAD"
	}
	out, err := s.store().Git().WithDir(s.gitWorkDir()).Output(ctx, []string{"rev-parse", "--verify", "-q", base + "^{commit}"})
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", base, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// PrepareWorktree checks commit out, detached, in dir: a worktree kept
// ready so that a run's start costs no checkout (TakeWorktree).
func (s *Service) PrepareWorktree(ctx context.Context, dir, commit string) error {
	s.c.wtMu.Lock()
	defer s.c.wtMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	_, err := s.store().Git().WithDir(s.gitWorkDir()).Output(ctx, []string{"worktree", "add", "-q", "--detach", dir, commit + "^{commit}"})
	return err
}

// ErrWorktreeStale means a prepared worktree is not at the commit a run
// needs (or is no longer a worktree): it is removed, not used.
var ErrWorktreeStale = errors.New("prepared worktree is stale")

// TakeWorktree makes the worktree prepared at from (PrepareWorktree) the
// run's checkout of branch in dir, without a git process: the directory
// is moved and git's record of its path rewritten (what `git worktree
// move` does), the branch is created at the prepared commit when it does
// not exist, and the worktree's HEAD is pointed at it. Its files and
// index are already those of the commit. ErrWorktreeStale when the
// prepared commit is not where branch starts (RunStart with base).
func (s *Service) TakeWorktree(ctx context.Context, from, dir, branch, base string) (*Worktree, error) {
	s.c.wtMu.Lock()
	defer s.c.wtMu.Unlock()
	want, ok := s.RunStart(branch, base)
	if !ok {
		return nil, ErrWorktreeStale
	}
	admin, err := s.WorktreeAdminDir(from)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWorktreeStale, err)
	}
	head, err := os.ReadFile(filepath.Join(admin, "HEAD"))
	if err != nil || strings.TrimSpace(string(head)) != want {
		return nil, ErrWorktreeStale
	}
	if _, err := os.Stat(dir); err == nil {
		// A worktree a killed daemon left for the task.
		g := s.store().Git().WithDir(s.gitWorkDir())
		g.Output(ctx, []string{"worktree", "unlock", dir})
		g.Output(ctx, []string{"worktree", "remove", "--force", "--force", dir})
		os.RemoveAll(dir)
	}
	if err := os.Rename(from, dir); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(admin, "gitdir"), []byte(filepath.Join(dir, ".git")+"\n")); err != nil {
		return nil, err
	}
	h, err := gitstore.ParseHash(want)
	if err != nil {
		return nil, err
	}
	ref := "refs/heads/" + branch
	if _, found, err := s.store().ReadRef(ref); err != nil {
		return nil, err
	} else if !found {
		if err := s.store().UpdateRef(ref, gitstore.ZeroHash, h); err != nil {
			return nil, err
		}
	}
	// HEAD by git's lock protocol: HEAD.lock created exclusively, renamed.
	if err := writeFileAtomic(filepath.Join(admin, "HEAD"), []byte("ref: "+ref+"\n")); err != nil {
		return nil, err
	}
	return &Worktree{Dir: dir, Branch: branch, Base: want}, nil
}

// writeFileAtomic writes p through p.lock, created exclusively (so a git
// process writing p at the same time fails instead of interleaving), and
// renamed over p.
func writeFileAtomic(p string, b []byte) error {
	lock := p + ".lock"
	f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(lock, p)
	}
	if err != nil {
		os.Remove(lock)
	}
	return err
}

// RunRecordOp returns the body of the run.record op in commit (a commit a
// task's history names for a run.record event), as its daemon signed it.
func (s *Service) RunRecordOp(ctx context.Context, commit string) (*runs.RecordBody, error) {
	h, err := gitstore.ParseHash(commit)
	if err != nil {
		return nil, err
	}
	fc, err := s.store().ReadFeedCommit(h)
	if err != nil {
		return nil, err
	}
	if fc.Problem != nil {
		return nil, fc.Problem
	}
	op, err := oplog.Decode(fc.Op)
	if err != nil {
		return nil, err
	}
	if op.Type != runs.OpRecord {
		return nil, fmt.Errorf("%w: %s is a %s op, not %s", ErrBadInput, commit, op.Type, runs.OpRecord)
	}
	var b runs.RecordBody
	if err := json.Unmarshal(op.Body, &b); err != nil {
		return nil, err
	}
	return &b, nil
}
