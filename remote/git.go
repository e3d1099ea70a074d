package remote

import (
	"context"

	"github.com/git-covenant/git-covenant/gitstore"
)

// Git runs the git binary in a repository, through gitstore's executor.
// Network operations go through it so that the user's credential helpers,
// SSH configuration and URL rewrites apply. Its children die with this
// process (see gitstore.Git).
type Git struct {
	Dir string   // the work tree, or the git directory of a bare repository
	Env []string // git's whole environment
	// Context is the context of the one call (sync, setup) this Git serves:
	// when it ends, the git child is stopped. nil means never.
	Context context.Context
}

// result is a finished git command.
type result struct {
	stdout, stderr []byte
	code           int
}

// run runs git with args and returns its output; a non-zero exit is not an
// error here, only a failure to start (or the context ending) is.
func (g *Git) run(args ...string) (*result, error) { return g.runWith(nil, args...) }

func (g *Git) runWith(opts []gitstore.GitOption, args ...string) (*result, error) {
	ctx := g.Context
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := (&gitstore.Git{Dir: g.Dir, Env: g.Env}).Run(ctx, args, opts...)
	if err != nil {
		return nil, err
	}
	return &result{stdout: res.Stdout, stderr: res.Stderr, code: res.Code}, nil
}

// must runs git and turns a non-zero exit into an error naming the
// subcommand and git's own message.
func (g *Git) must(args ...string) ([]byte, error) {
	res, err := g.run(args...)
	if err != nil {
		return nil, err
	}
	if res.code != 0 {
		return nil, res.err(args)
	}
	return res.stdout, nil
}

func (res *result) err(args []string) error {
	return (&gitstore.GitResult{Stderr: res.stderr, Code: res.code}).Err(args)
}

// gitMessage keeps the informative lines of git's stderr, on one line.
func gitMessage(stderr []byte) string { return gitstore.GitMessage(stderr) }
