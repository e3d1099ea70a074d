package provenance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/attest"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/runner"
)

// RunOptions say how to run a validation command.
type RunOptions struct {
	Dir    string   // any directory of the repository
	Env    []string // the whole environment of git and the command
	Commit gitstore.Hash
	Argv   []string
	Output io.Writer // where the command's output is echoed; may be nil
	Now    func() time.Time
}

// cleanupWait bounds the removal of the temporary worktree after the
// command, which runs even when the caller's context has ended.
const cleanupWait = 30 * time.Second

// Run checks commit out into a temporary detached worktree (never the
// user's working tree), runs the command there with the evidence runner
// (stdout and stderr combined, digested, the tail kept) and removes the
// worktree, also when ctx ends first. A command that ran and failed is
// evidence (ExitCode ≠ 0), not an error; one stopped because ctx ended is
// an error wrapping runner.ErrCancelled.
func Run(ctx context.Context, o RunOptions) (*Evidence, error) {
	if len(o.Argv) == 0 {
		return nil, fmt.Errorf("%w: no command given", ErrCommand)
	}
	tmp, err := os.MkdirTemp("", "covenant-provenance-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	g := &gitstore.Git{Dir: o.Dir, Env: o.Env}
	wt := filepath.Join(tmp, "tree")
	if _, err := g.Output(ctx, []string{"worktree", "add", "--detach", "--quiet", wt, o.Commit.String()}); err != nil {
		// A cancelled add may have registered the worktree already.
		removeWorktree(ctx, g, wt)
		return nil, fmt.Errorf("git worktree add: %w", err)
	}
	defer removeWorktree(ctx, g, wt)
	start := o.Now()
	res, err := runner.Run(ctx, runner.Command{Argv: o.Argv, Env: o.Env, Dir: wt, Echo: o.Output, TailBytes: TailBytes})
	switch {
	case errors.Is(err, runner.ErrCancelled):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrCommand, err)
	}
	return &Evidence{Command: append([]string(nil), o.Argv...), StartedAt: start.UTC().Format(time.RFC3339),
		DurationMs: res.Duration.Milliseconds(), ExitCode: res.ExitCode, OutputSHA256: res.OutputSHA256,
		OutputBytes: res.OutputBytes, OutputTail: strings.ToValidUTF8(string(res.Tail), "?")}, nil
}

// removeWorktree removes the temporary worktree and its registration,
// with a context of its own: clean-up must not be cancelled with the work.
func removeWorktree(ctx context.Context, g *gitstore.Git, wt string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupWait)
	defer cancel()
	g.Run(ctx, []string{"worktree", "remove", "--force", wt})
	g.Run(ctx, []string{"worktree", "prune"})
}

// Subjects lists what a statement about commit binds: the commit
// (gitCommit), its tree (gitTree) and each file it changed and kept
// (gitBlob and sha256, named by path).
func Subjects(st *gitstore.Store, commit gitstore.Hash) ([]attest.Subject, []Change, error) {
	c, err := st.ReadCommit(commit)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrNoCommit, commit, err)
	}
	subs := []attest.Subject{
		{Name: "commit", Digest: map[string]string{"gitCommit": commit.String()}},
		{Name: "tree", Digest: map[string]string{"gitTree": c.Tree.String()}},
	}
	changes, err := Changes(st, c)
	if err != nil {
		return nil, nil, err
	}
	for _, ch := range changes {
		if ch.Blob.IsZero() || ch.Gitlink() {
			continue // a gitlink is bound by the tree subject
		}
		sum, err := BlobSHA256(st, ch.Blob)
		if err != nil {
			return nil, nil, err
		}
		subs = append(subs, attest.Subject{Name: "file:" + ch.Path, Digest: map[string]string{"gitBlob": ch.Blob.String(), "sha256": sum}})
	}
	return subs, changes, nil
}

// Sign builds the in-toto statement over commit with the predicate, signs
// it as DSSE with sign (an ed25519 signature over the message) and returns
// the sigstore bundle as one line of JSON.
func Sign(st *gitstore.Store, commit gitstore.Hash, p *Predicate, keyID string, sign func([]byte) ([]byte, error)) ([]byte, error) {
	subs, _, err := Subjects(st, commit)
	if err != nil {
		return nil, err
	}
	payload, err := attest.NewStatement(subs, PredicateType, p)
	if err != nil {
		return nil, err
	}
	return attest.SignWith(payload, keyID, sign)
}

// ResultOf maps an exit status to the predicate's result.
func ResultOf(exitCode int) string {
	if exitCode == 0 {
		return Passed
	}
	return Failed
}
