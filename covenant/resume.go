package covenant

import (
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

// TaskCommits returns the commits reachable from HEAD and local branches
// whose Covenant-Task trailer names the task, newest first.
func (r *Repo) TaskCommits(t *tasks.Task) ([]CommitInfo, error) {
	starts := []gitstore.Hash{}
	if h, _, err := r.Store.Head(); err == nil && !h.IsZero() {
		starts = append(starts, h)
	}
	branches, err := r.Store.ListRefs("refs/heads/")
	if err != nil {
		return nil, err
	}
	for _, h := range branches {
		starts = append(starts, h)
	}
	cutoff := t.CreatedAt.Add(-24 * time.Hour)
	out := []CommitInfo{}
	err = r.Store.WalkCommits(starts, commitScanLimit, func(h gitstore.Hash, c *gitstore.Commit) bool {
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
	return out, err
}

func info(h gitstore.Hash, c *gitstore.Commit) CommitInfo {
	subject, _, _ := strings.Cut(c.Message, "\n")
	return CommitInfo{Hash: h.String(), Subject: subject, Author: c.Author.Name, Time: c.Author.When}
}

// Resume builds the context pack of a task.
func (r *Repo) Resume(idOrPrefix string) (*ContextPack, error) {
	t, err := r.Task(idOrPrefix)
	if err != nil {
		return nil, err
	}
	head, branch, err := r.Store.Head()
	if err != nil {
		return nil, err
	}
	p := &ContextPack{Task: t, Handoff: t.Handoff, NextSteps: []string{}, Branch: strings.TrimPrefix(branch, "refs/heads/")}
	if !head.IsZero() {
		p.Head = head.String()
	}
	if p.Commits, err = r.TaskCommits(t); err != nil {
		return nil, err
	}
	if t.Handoff == nil {
		return p, nil
	}
	p.NextSteps = t.Handoff.Next
	since := &Since{Head: t.Handoff.Head, Commits: []CommitInfo{}, Files: []FileChange{}}
	if t.Handoff.Head != "" && !head.IsZero() && t.Handoff.Head != head.String() {
		stop, _ := gitstore.ParseHash(t.Handoff.Head)
		err := r.Store.WalkCommits([]gitstore.Hash{head}, 500, func(h gitstore.Hash, c *gitstore.Commit) bool {
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
		if c, err := r.Store.ReadCommit(head); err == nil {
			headTree = c.Tree
		}
	}
	for _, f := range t.Handoff.Files {
		fc := FileChange{Path: f.Path, Handoff: f.Blob, Status: "unchanged"}
		if !headTree.IsZero() {
			if b, ok, err := r.Store.TreeFile(headTree, f.Path); err == nil && ok {
				fc.Head = b.String()
			}
		}
		if r.Store.WorkTree != "" {
			if b, err := r.Store.ReadWorkFile(f.Path); err == nil {
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

// HandoffFile pins a working-tree file (path relative to the top of the
// working tree) to its blob, writing the blob so it can be shown later.
func (r *Repo) HandoffFile(rel string) (tasks.FileRef, error) {
	if r.Store.WorkTree == "" {
		return tasks.FileRef{}, ErrBare
	}
	// Through symlinks, the file must stay in the work tree.
	b, err := r.Store.ReadWorkFile(rel)
	if err != nil {
		return tasks.FileRef{}, err
	}
	h, err := r.Store.WriteObject(gitstore.BlobObject, b)
	if err != nil {
		return tasks.FileRef{}, err
	}
	return tasks.FileRef{Path: filepath.ToSlash(rel), Blob: h.String()}, nil
}

// HeadInfo returns HEAD's commit and branch.
func (r *Repo) HeadInfo() (string, string, error) {
	h, branch, err := r.Store.Head()
	if err != nil || h.IsZero() {
		return "", strings.TrimPrefix(branch, "refs/heads/"), err
	}
	return h.String(), strings.TrimPrefix(branch, "refs/heads/"), nil
}
