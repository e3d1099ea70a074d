package covenant

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
)

// CommitInfo describes a code commit.
type CommitInfo struct {
	Hash    string    `json:"hash"`
	Subject string    `json:"subject"`
	Author  string    `json:"author"`
	Time    time.Time `json:"time"`
}

// FileChange compares a file named in a handoff with what the repo has now.
type FileChange struct {
	Path     string `json:"path"`
	Handoff  string `json:"handoff_blob"`
	Head     string `json:"head_blob,omitempty"`
	WorkTree string `json:"worktree_blob,omitempty"`
	Status   string `json:"status"` // unchanged, changed, deleted
}

// Since is what moved after the latest handoff.
type Since struct {
	Head    string       `json:"head"`
	Commits []CommitInfo `json:"commits"`
	Files   []FileChange `json:"files"`
}

// ContextPack is everything a fresh session needs to resume a task, built
// from repository state alone. Each fact appears once: the latest
// handoff's questions are in OpenQuestions (with every earlier one still
// unanswered), its files in SinceHandoff, its commits in Commits, its
// summary not again in History.
type ContextPack struct {
	Task          PackTask         `json:"task"`
	Handoff       *PackHandoff     `json:"handoff"`        // the latest; null before the first
	OpenQuestions []tasks.Question `json:"open_questions"` // asked in any handoff, not answered yet
	Moves         []tasks.Move     `json:"moves"`          // allowed from the current state, and what their gates need
	Trailers      []string         `json:"trailers"`       // for commits under the task (the lease's once claimed)
	Commits       []CommitInfo     `json:"commits"`        // commits naming the task, newest first
	SinceHandoff  *Since           `json:"since_handoff"`
	History       []PackEvent      `json:"history"`
	Head          string           `json:"head"`
	Branch        string           `json:"branch"`
	// Memories are the memories relevant to the task, ranked, within
	// PackMemoryTokens (see relevant).
	Memories []PackMemory `json:"memories"`
}

// PackTask is the task as a resuming session needs it.
type PackTask struct {
	ID           string            `json:"id"`
	Title        string            `json:"title"`
	State        string            `json:"state"`
	Priority     string            `json:"priority"`
	Labels       []string          `json:"labels"`
	Body         string            `json:"body,omitempty"`
	FailureModes []string          `json:"failure_modes,omitempty"`
	CreatedBy    string            `json:"created_by"`
	CreatedAt    time.Time         `json:"created_at"`
	Lease        *PackLease        `json:"lease"` // the active or latest lease; null if never claimed
	Handoffs     int               `json:"handoffs"`
	Links        []tasks.Link      `json:"links,omitempty"`
	LinkedFrom   []tasks.Link      `json:"linked_from,omitempty"`
	OpenBlockers int               `json:"open_blockers,omitempty"`
	Escalation   *tasks.Escalation `json:"escalation,omitempty"`
}

// PackLease is a lease, by holder name.
type PackLease struct {
	Holder    string    `json:"holder"`
	Epoch     uint64    `json:"epoch"`
	ExpiresAt time.Time `json:"expires_at"`
	Active    bool      `json:"active"`
}

// PackHandoff is the latest handoff without what the pack says elsewhere.
type PackHandoff struct {
	By         string           `json:"by"`
	At         time.Time        `json:"at"`
	Summary    string           `json:"summary"`
	Next       []string         `json:"next"`
	Validation tasks.Validation `json:"validation"`
}

// PackEvent is one op of the task's history.
type PackEvent struct {
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Type    string    `json:"type"`
	Epoch   uint64    `json:"epoch,omitempty"`
	Summary string    `json:"summary,omitempty"`
}

// commitScanLimit bounds how many code commits resume and handoff look at.
const commitScanLimit = 20000

// taskCommits returns the commits reachable from HEAD and local branches
// whose Covenant-Task trailer names the task, newest first.
func (s *Service) taskCommits(ctx context.Context, t *tasks.Task) ([]CommitInfo, error) {
	starts := []gitstore.Hash{}
	if h, _, err := s.store().Head(); err == nil && !h.IsZero() {
		starts = append(starts, h)
	}
	branches, err := s.store().ListRefs("refs/heads/")
	if err != nil {
		return nil, err
	}
	for _, h := range branches {
		starts = append(starts, h)
	}
	cutoff := t.CreatedAt.Add(-24 * time.Hour)
	out := []CommitInfo{}
	err = s.store().WalkCommits(starts, commitScanLimit, func(h gitstore.Hash, c *gitstore.Commit) bool {
		if ctx.Err() != nil {
			return false
		}
		if c.Committer.When.Before(cutoff) {
			return true
		}
		for _, v := range oplog.Trailers(c.Message)["Covenant-Task"] {
			if v == t.ID {
				out = append(out, info(h, c))
				break
			}
		}
		return true
	})
	if err == nil {
		err = ctx.Err()
	}
	return out, err
}

func info(h gitstore.Hash, c *gitstore.Commit) CommitInfo {
	subject, _, _ := strings.Cut(c.Message, "\n")
	return CommitInfo{Hash: h.String(), Subject: subject, Author: c.Author.Name, Time: c.Author.When}
}

// Resume builds the context pack of a task: everything a fresh session
// needs to continue it.
func (s *Service) Resume(ctx context.Context, idOrPrefix string) (*ContextPack, error) {
	t, err := s.Task(ctx, idOrPrefix)
	if err != nil {
		return nil, err
	}
	return s.pack(ctx, t)
}

// pack builds the context pack of a task already read.
func (s *Service) pack(ctx context.Context, t *tasks.Task) (*ContextPack, error) {
	r := s.store()
	head, branch, err := r.Head()
	if err != nil {
		return nil, err
	}
	wf, err := s.Workflow()
	if err != nil {
		return nil, err
	}
	now := s.now()
	p := &ContextPack{Task: packTask(t, now), OpenQuestions: t.OpenQuestions(), Moves: wf.Moves(t),
		Trailers: []string{"Covenant-Task: " + t.ID}, History: []PackEvent{}, Branch: strings.TrimPrefix(branch, "refs/heads/")}
	if t.Lease.ActiveAt(now) {
		p.Trailers = append(p.Trailers, "Covenant-Lease: "+strconv.FormatUint(t.Lease.Epoch, 10))
	}
	latest := ""
	if h := t.Handoff; h != nil {
		latest = h.Op
		p.Handoff = &PackHandoff{At: h.At, Summary: h.Summary, Next: h.Next, Validation: h.Validation}
		if h.By != nil {
			p.Handoff.By = h.By.Name
		}
	}
	for _, e := range t.History {
		ev := PackEvent{At: e.Time, By: e.Actor.Name, Type: e.Type, Epoch: e.Epoch, Summary: e.Summary}
		if e.Op == latest && e.Type == tasks.OpHandoff {
			ev.Summary = "" // the handoff above
		}
		p.History = append(p.History, ev)
	}
	if !head.IsZero() {
		p.Head = head.String()
	}
	if p.Commits, err = s.taskCommits(ctx, t); err != nil {
		return nil, err
	}
	if p.Memories, err = s.relevant(ctx, t, t.Labels, PackMemoryTokens); err != nil {
		return nil, err
	}
	if t.Handoff == nil {
		return p, nil
	}
	since := &Since{Head: t.Handoff.Head, Commits: []CommitInfo{}, Files: []FileChange{}}
	if t.Handoff.Head != "" && !head.IsZero() && t.Handoff.Head != head.String() {
		stop, _ := gitstore.ParseHash(t.Handoff.Head)
		err := r.WalkCommits([]gitstore.Hash{head}, 500, func(h gitstore.Hash, c *gitstore.Commit) bool {
			if h == stop {
				return false
			}
			since.Commits = append(since.Commits, info(h, c))
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	var headTree gitstore.Hash
	if !head.IsZero() {
		if c, err := r.ReadCommit(head); err == nil {
			headTree = c.Tree
		}
	}
	for _, f := range t.Handoff.Files {
		fc := FileChange{Path: f.Path, Handoff: f.Blob, Status: "unchanged"}
		if !headTree.IsZero() {
			if b, ok, err := r.TreeFile(headTree, f.Path); err == nil && ok {
				fc.Head = b.String()
			}
		}
		if r.WorkTree != "" {
			if b, err := r.ReadWorkFile(f.Path); err == nil {
				fc.WorkTree = gitstore.HashObject(gitstore.BlobObject, b).String()
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		cur := fc.WorkTree
		if cur == "" {
			cur = fc.Head
		}
		switch {
		case cur == "":
			fc.Status = "deleted"
		case cur != f.Blob:
			fc.Status = "changed"
		}
		since.Files = append(since.Files, fc)
	}
	p.SinceHandoff = since
	return p, nil
}

// pinFile pins a working-tree file (path relative to the top of the
// working tree) to its blob, writing the blob so it can be shown later,
// unless .covenantignore names the path or the file holds a secret (see
// storable): then only the blob id is recorded. what names the pin in
// messages (handoff --file).
func (s *Service) pinFile(what, rel string) (tasks.FileRef, error) {
	r := s.store()
	if r.WorkTree == "" {
		return tasks.FileRef{}, ErrBare
	}
	cfg, err := s.requireConfig()
	if err != nil {
		return tasks.FileRef{}, err
	}
	// Through symlinks, the file must stay in the work tree.
	b, err := r.ReadWorkFile(rel)
	if err != nil {
		return tasks.FileRef{}, err
	}
	rel = filepath.ToSlash(rel)
	ok, err := s.storable(cfg, what, rel, b)
	if err != nil {
		return tasks.FileRef{}, err
	}
	h := gitstore.HashObject(gitstore.BlobObject, b)
	if ok {
		if h, err = r.WriteObject(gitstore.BlobObject, b); err != nil {
			return tasks.FileRef{}, err
		}
	}
	return tasks.FileRef{Path: rel, Blob: h.String()}, nil
}

// headInfo returns HEAD's commit and branch.
func (s *Service) headInfo() (string, string, error) {
	h, branch, err := s.store().Head()
	if err != nil || h.IsZero() {
		return "", strings.TrimPrefix(branch, "refs/heads/"), err
	}
	return h.String(), strings.TrimPrefix(branch, "refs/heads/"), nil
}

// StartedTask is what task start returns: the claimed task as folded and
// its context pack.
type StartedTask struct {
	Task *tasks.Task
	Pack *ContextPack
}

// StartAndResume claims a task (see StartTask) and builds its context
// pack from the claimed state, without reading the task again.
func (s *Service) StartAndResume(ctx context.Context, req StartRequest) (*StartedTask, error) {
	t, err := s.StartTask(ctx, req)
	if err != nil {
		return nil, err
	}
	p, err := s.pack(ctx, t)
	if err != nil {
		return nil, err
	}
	return &StartedTask{Task: t, Pack: p}, nil
}

// packTask is the task part of a context pack.
func packTask(t *tasks.Task, now time.Time) PackTask {
	pt := PackTask{ID: t.ID, Title: t.Title, State: t.State, Priority: t.Priority, Labels: t.Labels, Body: t.Body,
		FailureModes: t.FailureModes, CreatedBy: t.CreatedBy.Name, CreatedAt: t.CreatedAt, Handoffs: t.Handoffs,
		Links: t.Links, LinkedFrom: t.LinkedFrom, OpenBlockers: t.OpenBlockers, Escalation: t.Escalation}
	if pt.Labels == nil {
		pt.Labels = []string{}
	}
	if l := t.Lease; l != nil {
		pt.Lease = &PackLease{Holder: l.Holder, Epoch: l.Epoch, ExpiresAt: l.ExpiresAt, Active: l.ActiveAt(now)}
	}
	return pt
}
