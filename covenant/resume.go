package covenant

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
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
// from repository state alone.
type ContextPack struct {
	Task         *tasks.Task    `json:"task"`
	Handoff      *tasks.Handoff `json:"handoff"`
	NextSteps    []string       `json:"next_steps"`
	Commits      []CommitInfo   `json:"commits"`
	SinceHandoff *Since         `json:"since_handoff"`
	Head         string         `json:"head"`
	Branch       string         `json:"branch"`
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
	p := &ContextPack{Task: t, Handoff: t.Handoff, NextSteps: []string{}, Branch: strings.TrimPrefix(branch, "refs/heads/")}
	if !head.IsZero() {
		p.Head = head.String()
	}
	if p.Commits, err = s.taskCommits(ctx, t); err != nil {
		return nil, err
	}
	if t.Handoff == nil {
		return p, nil
	}
	p.NextSteps = t.Handoff.Next
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
// working tree) to its blob, writing the blob so it can be shown later.
func (s *Service) pinFile(rel string) (tasks.FileRef, error) {
	r := s.store()
	if r.WorkTree == "" {
		return tasks.FileRef{}, ErrBare
	}
	// Through symlinks, the file must stay in the work tree.
	b, err := r.ReadWorkFile(rel)
	if err != nil {
		return tasks.FileRef{}, err
	}
	h, err := r.WriteObject(gitstore.BlobObject, b)
	if err != nil {
		return tasks.FileRef{}, err
	}
	return tasks.FileRef{Path: filepath.ToSlash(rel), Blob: h.String()}, nil
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
