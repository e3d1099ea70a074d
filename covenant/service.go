// Package covenant is the service layer: one long-lived, context-aware
// handle (Service) that every front end goes through (the CLI today; the
// daemon, MCP and HTTP next), so every rule is checked in one place.
//
// A Service owns the open repository (gitstore), the keystore and the
// signers it has loaded, the committed config (reloaded when it changes),
// the derived index (kept open across calls), the in-process mutex around
// the cross-process writer lock, the clock and a status log. Writes plan
// their ops against caught-up state, check each with the same fold the
// index uses, sign and publish them, and return what they folded. Reads
// catch the index up first when the feed heads moved. Methods take a
// context and return view and model types (tasks, trust, identity,
// provenance, remote); no index, go-git, bbolt or ssh type crosses the
// boundary.
//
// It imports the domain packages (attest, config, identity, index, ledger,
// oplog, provenance, remote, tasks, trust) and gitstore; only the cli
// package and the programs under cmd/ and internal/ import it.
package covenant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/tokens"
	"golang.org/x/crypto/ssh"
)

var (
	// ErrNotCovenant means the repository has no .covenant/config.toml.
	ErrNotCovenant = errors.New("not a covenant repository")
	// ErrBareNoConfig means a bare repository whose HEAD has no
	// .covenant/config.toml (a bare repository reads it from HEAD; init
	// needs a working tree). It matches ErrNotCovenant too.
	ErrBareNoConfig = fmt.Errorf("%w: no %s at HEAD of this bare repository", ErrNotCovenant, config.Path)
	// ErrBusy means another git-covenant process held the writer lock too long.
	ErrBusy = errors.New("repository is busy")
	// ErrClosed means the Service was closed.
	ErrClosed = errors.New("service closed")
	// ErrNotWritable means the repository cannot be written: no
	// permission, a read-only file system or a full disk. Reads still
	// work (see Service.read); writes write nothing.
	ErrNotWritable = errors.New("repository is not writable")
)

// Errors of the lower packages that callers classify, re-exported so that
// front ends need not import the packages that define them.
var (
	// ErrNotRepository means no git repository contains the directory.
	ErrNotRepository = gitstore.ErrNotRepository
	// ErrUnsupportedRepository means a repository format this build cannot write.
	ErrUnsupportedRepository = gitstore.ErrUnsupportedRepository
	// ErrRefConflict means another process moved a ref first.
	ErrRefConflict = gitstore.ErrRefConflict
	// ErrRefLocked means a ref's lock file was held too long.
	ErrRefLocked = gitstore.ErrRefLocked
	// ErrTaskNotFound means no task has that id or prefix.
	ErrTaskNotFound = index.ErrNotFound
	// ErrAmbiguous means a task id prefix names more than one task.
	ErrAmbiguous = index.ErrAmbiguous
)

// LockWait bounds how long a writer waits for another git-covenant process.
var LockWait = 60 * time.Second

// DefaultIdleRelease is how long a Service keeps the writer lock and the
// index after its last call (see Options.IdleRelease).
const DefaultIdleRelease = 25 * time.Millisecond

// Options configure Open.
type Options struct {
	// Dir is a directory inside the repository.
	Dir string
	// Getenv reads the environment (GIT_COVENANT_HOME, GIT_COVENANT_AS,
	// USER); it is called during Open and Init only.
	Getenv func(string) string
	// Env is the whole environment git children run with (the CLI passes
	// its own, so credential helpers and SSH configuration apply); git's
	// GIT_DIR and GIT_WORK_TREE in it are honoured. Nothing below the CLI
	// reads the process environment.
	Env []string
	// As names the acting identity; "" means $GIT_COVENANT_AS, else the
	// keystore's default.
	As string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives status lines for long or unusual work; nil discards them.
	Log io.Writer
	// Progress, when set, draws progress of long work (the CLI sets it
	// only when stderr is a terminal).
	Progress func(done, total int, what string)
	// IdleRelease is how long the writer lock and the open index are kept
	// after the last call, so that a burst of calls pays for them once;
	// other processes wait at most this long once the Service goes idle.
	// 0 means DefaultIdleRelease; negative releases after every call.
	IdleRelease time.Duration
}

// Service is an open covenant repository. It is safe for concurrent use;
// As returns a Service acting as another identity over the same handle.
// Close it when done.
type Service struct {
	c  *core
	as string // acting identity; "" means the default
}

// core is what every Service of one Open shares.
type core struct {
	store    *gitstore.Store
	keys     *identity.Keystore
	getenv   func(string) string
	now      func() time.Time
	log      io.Writer
	progress func(done, total int, what string)
	idle     time.Duration

	cfgMu    sync.Mutex
	wtMu     sync.Mutex     // serializes git worktree add/remove/prune: a prune deletes .git/worktrees under a concurrent add
	cfg      *config.Config // nil until initialized
	cfgStamp string

	srcMu  sync.Mutex
	srcCfg *config.Config // the config src was built from
	src    index.Source

	actMu   sync.Mutex
	actors  map[string]*Actor
	defName string

	// The session: the writer lock and the open index. wmu is held by
	// one caller at a time; the flock and the index stay held across
	// calls until the Service has been idle for idle (see release).
	wmu    sync.Mutex
	lockF  *os.File
	held   bool
	gen    uint64
	closed bool
	ixMu   sync.RWMutex // readers of ix hold it shared; drop holds it exclusive
	ix     *index.Index
	folded map[string]gitstore.Hash // fold heads the index holds, nil if unknown
	digest string                   // config digest the index was folded under

	memNoted atomic.Bool // the log said reads fold in memory

	tokOnce sync.Once // the token file, opened on first use (tokens.go)
	tokFile *tokens.File
	tokErr  error
}

// Open finds the repository containing opts.Dir and loads its config if it
// has one. The context bounds opening only.
func Open(ctx context.Context, opts Options) (*Service, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	st, err := gitstore.OpenEnv(opts.Dir, opts.Env)
	if err != nil {
		return nil, err
	}
	kdir, err := identity.DefaultDir(opts.Getenv)
	if err != nil {
		return nil, err
	}
	c := &core{store: st, keys: &identity.Keystore{Dir: kdir}, getenv: opts.Getenv, now: opts.Now,
		log: opts.Log, progress: opts.Progress, idle: opts.IdleRelease, actors: map[string]*Actor{}}
	if c.now == nil {
		c.now = time.Now
	}
	if c.idle == 0 {
		c.idle = DefaultIdleRelease
	}
	if c.log == nil {
		c.log = io.Discard
	}
	if _, err := c.config(); err != nil {
		return nil, err
	}
	as := opts.As
	if as == "" {
		as = opts.Getenv("GIT_COVENANT_AS")
	}
	return &Service{c: c, as: as}, nil
}

// As returns a Service acting as the named identity, sharing this one's
// handle (store, index, lock, cached signers).
func (s *Service) As(name string) *Service { return &Service{c: s.c, as: name} }

// Close releases the writer lock and the index. Calls after Close fail.
func (s *Service) Close() error {
	c := s.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.closed = true
	err := c.drop()
	if c.lockF != nil {
		c.lockF.Close()
		c.lockF = nil
	}
	return err
}

// WorkTree returns the top of the working tree, "" in a bare repository.
func (s *Service) WorkTree() string { return s.c.store.WorkTree }

// now is the service clock.
func (s *Service) now() time.Time { return s.c.now() }

func (s *Service) store() *gitstore.Store { return s.c.store }

func (s *Service) logf(format string, args ...any) { fmt.Fprintf(s.c.log, format+"\n", args...) }

// Config returns the repository's config, reloaded if the file changed
// since the last call; nil if the repository is not initialized. Treat it
// as read-only.
func (s *Service) Config() (*config.Config, error) { return s.c.config() }

// Workflow returns the task lifecycle of the repository.
func (s *Service) Workflow() (*tasks.Workflow, error) {
	cfg, err := s.requireConfig()
	if err != nil {
		return nil, err
	}
	return cfg.Lifecycle(), nil
}

// requireConfig returns the config, failing unless the repository has been
// initialized.
func (s *Service) requireConfig() (*config.Config, error) {
	cfg, err := s.c.config()
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		if s.c.store.WorkTree == "" {
			return nil, ErrBareNoConfig
		}
		return nil, fmt.Errorf("%w: no %s", ErrNotCovenant, config.Path)
	}
	return cfg, nil
}

// config reloads the config when its file (or, in a bare repository, HEAD)
// changed: one stat per call.
func (c *core) config() (*config.Config, error) {
	c.cfgMu.Lock()
	defer c.cfgMu.Unlock()
	stamp, err := c.configStamp()
	if err != nil {
		return nil, err
	}
	if stamp == c.cfgStamp && c.cfgStamp != "" {
		return c.cfg, nil
	}
	raw, err := c.readConfig()
	if err != nil {
		return nil, err
	}
	var cfg *config.Config
	if raw != nil {
		if cfg, err = config.Parse(raw); err != nil {
			return nil, err
		}
	}
	c.cfg, c.cfgStamp = cfg, stamp
	return cfg, nil
}

// configStamp identifies the version of the config file cheaply.
func (c *core) configStamp() (string, error) {
	if c.store.WorkTree != "" {
		fi, err := os.Stat(filepath.Join(c.store.WorkTree, filepath.FromSlash(config.Path)))
		if errors.Is(err, fs.ErrNotExist) {
			return "none", nil
		}
		if err != nil {
			return "", err
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		if st == nil {
			return fmt.Sprintf("%d/%d", fi.ModTime().UnixNano(), fi.Size()), nil
		}
		return fmt.Sprintf("%d/%d/%d/%d.%d", st.Ino, fi.Size(), fi.ModTime().UnixNano(), st.Ctim.Sec, st.Ctim.Nsec), nil
	}
	head, _, err := c.store.Head()
	if err != nil {
		return "none", nil
	}
	return "head " + head.String(), nil
}

// readConfig reads .covenant/config.toml from the working tree, or from
// HEAD in a bare repository. nil means there is none.
func (c *core) readConfig() ([]byte, error) {
	st := c.store
	if st.WorkTree != "" {
		b, err := os.ReadFile(filepath.Join(st.WorkTree, filepath.FromSlash(config.Path)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return b, err
	}
	head, _, err := st.Head()
	if err != nil || head.IsZero() {
		return nil, nil
	}
	cm, err := st.ReadCommit(head)
	if err != nil {
		return nil, err
	}
	blob, ok, err := st.TreeFile(cm.Tree, config.Path)
	if err != nil || !ok {
		return nil, err
	}
	return st.ReadTyped(blob, gitstore.BlobObject)
}

// Actor is an identity of the local keystore as the service acts with it.
type Actor struct {
	Name  string        `json:"name"`
	Role  identity.Role `json:"role"`
	KeyID string        `json:"key_id"`
	Key   string        `json:"key"` // public key, one OpenSSH line

	id     *identity.Identity
	signer ssh.Signer
}

// Actor resolves an identity of the keystore ("" means the acting one) and
// loads its signer, once: later calls return the cached actor, so a write
// does not read the key again.
func (s *Service) Actor(name string) (*Actor, error) {
	c := s.c
	c.actMu.Lock()
	defer c.actMu.Unlock()
	if name == "" {
		name = s.as
	}
	if name == "" {
		if c.defName == "" {
			d, err := c.keys.Default()
			if err != nil {
				return nil, err
			}
			c.defName = d
		}
		name = c.defName
	}
	if a, ok := c.actors[name]; ok {
		return a, nil
	}
	id, err := c.keys.Get(name)
	if err != nil {
		return nil, err
	}
	signer, err := c.keys.Signer(id.Name)
	if err != nil {
		return nil, err
	}
	a := &Actor{Name: id.Name, Role: id.Role, KeyID: id.KeyID(), Key: identity.FormatPublicKey(id.PublicKey), id: id, signer: signer}
	c.actors[name] = a
	return a, nil
}

// forgetActor drops a cached actor (its key changed).
func (s *Service) forgetActor(name string) {
	s.c.actMu.Lock()
	defer s.c.actMu.Unlock()
	delete(s.c.actors, name)
	s.c.defName = ""
}
