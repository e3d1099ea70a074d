package provenance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/attest"
	"github.com/git-covenant/git-covenant/gitstore"
)

// RunOptions say how to run a validation command.
type RunOptions struct {
	Dir    string   // any directory of the repository
	Env    []string // environment for git and the command (nil: inherit)
	Commit gitstore.Hash
	Argv   []string
	Output io.Writer // where the command's output is echoed; may be nil
	Now    func() time.Time
}

// Run checks commit out into a temporary detached worktree (never the
// user's working tree), runs the command there with stdout and stderr
// combined, and removes the worktree. A command that ran and failed is
// evidence (ExitCode ≠ 0), not an error.
func Run(ctx context.Context, o RunOptions) (*Evidence, error) {
	if len(o.Argv) == 0 {
		return nil, fmt.Errorf("%w: no command given", ErrCommand)
	}
	tmp, err := os.MkdirTemp("", "covenant-provenance-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	wt := filepath.Join(tmp, "tree")
	if out, err := git(o.Dir, o.Env, "worktree", "add", "--detach", "--quiet", wt, o.Commit.String()); err != nil {
		return nil, fmt.Errorf("git worktree add: %v: %s", err, out)
	}
	defer func() {
		git(o.Dir, o.Env, "worktree", "remove", "--force", wt)
		git(o.Dir, o.Env, "worktree", "prune")
	}()
	h := sha256.New()
	tail := &tailBuffer{max: TailBytes}
	var n countWriter
	w := io.MultiWriter(h, tail, &n)
	if o.Output != nil {
		w = io.MultiWriter(w, o.Output)
	}
	cmd := exec.CommandContext(ctx, o.Argv[0], o.Argv[1:]...)
	cmd.Dir = wt
	cmd.Env = o.Env
	cmd.Stdout, cmd.Stderr = w, w
	start := o.Now()
	began := time.Now()
	err = cmd.Run()
	ev := &Evidence{Command: append([]string(nil), o.Argv...), StartedAt: start.UTC().Format(time.RFC3339),
		DurationMs: time.Since(began).Milliseconds()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		ev.ExitCode = ee.ExitCode()
		if ev.ExitCode < 0 {
			ev.ExitCode = 128
		}
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrCommand, err)
	}
	ev.OutputSHA256 = hex.EncodeToString(h.Sum(nil))
	ev.OutputBytes = int64(n)
	ev.OutputTail = strings.ToValidUTF8(tail.String(), "?")
	return ev, nil
}

func git(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

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
		if ch.Blob.IsZero() {
			continue
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
