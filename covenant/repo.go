// Package covenant is the service layer the CLI drives: it opens a
// repository with its config and keystore, serializes writers, checks every
// op with the same fold the index uses before signing and publishing it, and
// answers reads from an index that is caught up first.
//
// It imports every domain package; only cmd/git-covenant and the cli
// package import it.
package covenant

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/trust"
)

var (
	// ErrNotCovenant means the repository has no .covenant/config.toml.
	ErrNotCovenant = errors.New("not a covenant repository")
	// ErrBusy means another git-covenant process held the writer lock too long.
	ErrBusy = errors.New("repository is busy")
)

// Repo is an open covenant repository plus the local keystore.
type Repo struct {
	Store    *gitstore.Store
	Config   *config.Config // nil until initialized
	Keys     *identity.Keystore
	Now      func() time.Time
	As       string    // identity chosen by --as or GIT_COVENANT_AS; "" means the default
	Progress io.Writer // status lines for long work; may be nil
	// Bar, when set, draws a one-line progress bar for long work (the CLI
	// sets it only when stderr is a terminal).
	Bar func(done, total int, what string)
}

// Options configure Open.
type Options struct {
	Dir    string
	Getenv func(string) string
	// Env is the whole environment git children run with (the CLI passes
	// its own, so credential helpers and SSH configuration apply); git's
	// GIT_DIR and GIT_WORK_TREE in it are honoured. Nothing below the CLI
	// reads the process environment.
	Env []string
	As  string
	Now func() time.Time
}

// Open finds the repository containing opts.Dir and loads its config if it
// has one.
func Open(opts Options) (*Repo, error) {
	st, err := gitstore.OpenEnv(opts.Dir, opts.Env)
	if err != nil {
		return nil, err
	}
	kdir, err := identity.DefaultDir(opts.Getenv)
	if err != nil {
		return nil, err
	}
	r := &Repo{Store: st, Keys: &identity.Keystore{Dir: kdir}, Now: opts.Now, As: opts.As}
	if r.As == "" {
		r.As = opts.Getenv("GIT_COVENANT_AS")
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	raw, err := r.readConfig()
	if err != nil {
		return nil, err
	}
	if raw != nil {
		if r.Config, err = config.Parse(raw); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// readConfig reads .covenant/config.toml from the working tree, or from
// HEAD in a bare repository. nil means there is none.
func (r *Repo) readConfig() ([]byte, error) {
	if r.Store.WorkTree != "" {
		b, err := os.ReadFile(filepath.Join(r.Store.WorkTree, filepath.FromSlash(config.Path)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return b, err
	}
	head, _, err := r.Store.Head()
	if err != nil || head.IsZero() {
		return nil, nil
	}
	c, err := r.Store.ReadCommit(head)
	if err != nil {
		return nil, err
	}
	blob, ok, err := r.Store.TreeFile(c.Tree, config.Path)
	if err != nil || !ok {
		return nil, err
	}
	return r.Store.ReadTyped(blob, gitstore.BlobObject)
}

// RequireConfig fails unless the repository has been initialized.
func (r *Repo) RequireConfig() error {
	if r.Config == nil {
		return fmt.Errorf("%w: no %s", ErrNotCovenant, config.Path)
	}
	return nil
}

// Identity returns the acting identity from the keystore.
func (r *Repo) Identity() (*identity.Identity, error) {
	name := r.As
	if name == "" {
		var err error
		if name, err = r.Keys.Default(); err != nil {
			return nil, err
		}
	}
	return r.Keys.Get(name)
}

func (r *Repo) dir() (string, error) { return r.Store.CovenantDir() }

func (r *Repo) source() index.Source {
	wf := r.Config.Lifecycle()
	reg := registry(wf)
	return index.Source{Store: r.Store, Roots: r.Config.Trust.Roots, Workflow: wf, Fold: reg, Config: r.Config.Digest() + "+" + reg.Digest()}
}

// Roots returns the config's trust roots.
func (r *Repo) Roots() []trust.Root { return r.Config.Trust.Roots }

func (r *Repo) progressf(format string, args ...any) {
	if r.Progress != nil {
		fmt.Fprintf(r.Progress, format+"\n", args...)
	}
}
