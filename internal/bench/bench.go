// Package bench holds what `make bench` (internal/benchcmd) and the
// `go test -bench` functions share: throwaway repositories, three writers
// that append the same task.create op at different levels of the stack
// (the covenant service, signed commits only, and a raw go-git floor), and
// helpers to time whole processes.
//
// Nothing here asserts on time; it only measures.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"golang.org/x/crypto/ssh"
)

// IdentityName is the keystore identity every bench repository uses.
const IdentityName = "bench"

// Env returns the environment that isolates git and git-covenant from the
// user's configuration: git reads no global or system config, and the
// keystore lives under home.
func Env(home string) map[string]string {
	return map[string]string{
		"HOME":                home,
		"XDG_CONFIG_HOME":     filepath.Join(home, ".config"),
		"GIT_CONFIG_GLOBAL":   filepath.Join(home, ".gitconfig"),
		"GIT_CONFIG_NOSYSTEM": "1",
		"GIT_AUTHOR_NAME":     "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
		"GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
		"GIT_COVENANT_HOME": filepath.Join(home, "covenant"),
		// Unset (empty) so they cannot redirect the bench.
		"GIT_DIR": "", "GIT_WORK_TREE": "", "GIT_COVENANT_AS": "", "GIT_COVENANT_NOW": "",
	}
}

// Isolate applies Env(home) with setenv (os.Setenv, or testing.B.Setenv).
// covenant.Init runs the git binary with the process environment, so the
// process environment itself must be isolated.
func Isolate(home string, setenv func(k, v string) error) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	for k, v := range Env(home) {
		if v == "" {
			os.Unsetenv(k)
			continue
		}
		if err := setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Git runs the git binary in dir and returns its trimmed stdout.
func Git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// InitGit makes a repository at dir with one commit on main.
func InitGit(dir string) error {
	if _, err := Git("", "init", "-q", "-b", "main", dir); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("bench\n"), 0o644); err != nil {
		return err
	}
	if _, err := Git(dir, "add", "README"); err != nil {
		return err
	}
	_, err := Git(dir, "commit", "-q", "-m", "initial")
	return err
}

// NewCovenantRepo makes a git repository at dir and initializes it as a
// covenant repository with IdentityName as trust root (creating the identity
// in the keystore the first time). The process environment must already be
// isolated (see Isolate).
func NewCovenantRepo(dir string) (*covenant.Service, error) {
	if err := InitGit(dir); err != nil {
		return nil, err
	}
	r, err := Open(dir)
	if err != nil {
		return nil, err
	}
	if _, err := r.Init(context.Background(), covenant.InitRequest{Name: IdentityName}); err != nil {
		return nil, err
	}
	return r, nil
}

// Open opens a covenant repository acting as IdentityName.
func Open(dir string) (*covenant.Service, error) {
	return covenant.Open(context.Background(), covenant.Options{Dir: dir, Getenv: os.Getenv, Env: os.Environ(), As: IdentityName})
}

// CreateDraft is the draft of the i-th benchmark task.
func CreateDraft(i int) covenant.Draft {
	b := tasks.CreateBody{Title: fmt.Sprintf("Benchmark task %d", i)}
	if err := b.Check(); err != nil {
		panic(err)
	}
	return covenant.Draft{Type: tasks.OpCreate, NewTask: true, Body: b, Summary: b.Title}
}

// CovenantWriter appends ops through one long-lived service handle,
// covenant.Service.Append: the first call takes the writer lock, opens the
// index and loads the signer; while calls keep coming they stay held, and
// each call checks the feed heads (one listing), folds the op, signs and
// stores the commit, moves the feed ref and commits the index.
type CovenantWriter struct {
	Service *covenant.Service
	n       int
}

// Write appends n task.create ops in one Append call (one ref update).
func (w *CovenantWriter) Write(n int) error {
	start := w.n
	w.n += n
	ds := make([]covenant.Draft, n)
	for i := range ds {
		ds[i] = CreateDraft(start + i)
	}
	_, err := w.Service.Append(context.Background(), ds)
	return err
}

// feedState tracks a feed's head and counters for the two lower-level
// writers, which bypass the index.
type feedState struct {
	keyID   string
	name    string
	head    gitstore.Hash
	seq     uint64
	lamport uint64
	n       int
	now     func() time.Time
}

// next returns the op bytes, commit message and author of the next
// task.create, built exactly as covenant.Repo.Write builds them.
func (f *feedState) next() (raw []byte, msg string, author gitstore.Person, err error) {
	d := CreateDraft(f.n)
	f.n++
	f.seq++
	f.lamport++
	op := &oplog.Op{V: oplog.Version, Type: d.Type, Actor: f.keyID, Seq: f.seq, Lamport: f.lamport,
		Time: oplog.FormatTime(f.now()), Task: tasks.NewID(f.keyID, f.seq)}
	if op.Body, err = json.Marshal(d.Body); err != nil {
		return nil, "", gitstore.Person{}, err
	}
	if raw, err = op.Encode(); err != nil {
		return nil, "", gitstore.Person{}, err
	}
	return raw, oplog.Message(op, d.Summary), ledger.Author(f.name, f.keyID, op.When()), nil
}

// SignedWriter appends signed feed commits with gitstore.BuildFeedCommits
// and gitstore.UpdateRef only: the same objects and ref update as
// CovenantWriter, without the keystore, writer lock, index and fold.
type SignedWriter struct {
	Store  *gitstore.Store
	Signer ssh.Signer
	Ref    string
	f      feedState
}

// NewSignedWriter opens dir (a git repository) and writes to a feed ref of
// the bench identity's key, read from the keystore of the (isolated)
// process environment.
func NewSignedWriter(dir string) (*SignedWriter, error) {
	kdir, err := identity.DefaultDir(os.Getenv)
	if err != nil {
		return nil, err
	}
	keys := &identity.Keystore{Dir: kdir}
	st, err := gitstore.Open(dir)
	if err != nil {
		return nil, err
	}
	id, err := keys.Get(IdentityName)
	if err != nil {
		return nil, err
	}
	signer, err := keys.Signer(IdentityName)
	if err != nil {
		return nil, err
	}
	return &SignedWriter{Store: st, Signer: signer, Ref: gitstore.FeedRef(id.KeyID()),
		f: feedState{keyID: id.KeyID(), name: id.Name, now: time.Now}}, nil
}

// Write appends n ops with one ref update.
func (w *SignedWriter) Write(n int) error {
	recs := make([]gitstore.Record, n)
	for i := range recs {
		raw, msg, author, err := w.f.next()
		if err != nil {
			return err
		}
		recs[i] = gitstore.Record{Op: raw, Message: msg, Author: author}
	}
	hs, err := w.Store.BuildFeedCommits(w.f.head, recs, w.Signer)
	if err != nil {
		return err
	}
	head := hs[len(hs)-1]
	if err := w.Store.UpdateRef(w.Ref, w.f.head, head); err != nil {
		return err
	}
	w.f.head = head
	return nil
}

// FloorWriter is the floor: the same blob, tree and (unsigned) commit per op
// written as loose objects with go-git's filesystem storer, then the ref
// moved with the storer's compare-and-swap. No signing, no index.
type FloorWriter struct {
	Storage *filesystem.Storage
	Ref     plumbing.ReferenceName
	f       feedState
	old     *plumbing.Reference
}

// NewFloorWriter opens the git directory of the repository at dir with
// go-git, configured like gitstore.Open configures it.
func NewFloorWriter(dir, keyID string) *FloorWriter {
	s := filesystem.NewStorageWithOptions(osfs.New(filepath.Join(dir, ".git")), cache.NewObjectLRU(16*cache.MiByte), filesystem.Options{})
	return &FloorWriter{Storage: s, Ref: plumbing.ReferenceName(gitstore.FeedRef(keyID)),
		f: feedState{keyID: keyID, name: IdentityName, now: time.Now}}
}

func (w *FloorWriter) put(t plumbing.ObjectType, content []byte) (plumbing.Hash, error) {
	obj := w.Storage.NewEncodedObject()
	obj.SetType(t)
	obj.SetSize(int64(len(content)))
	ow, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := ow.Write(content); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := ow.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return w.Storage.SetEncodedObject(obj)
}

// Write appends n ops with one ref update.
func (w *FloorWriter) Write(n int) error {
	parent := w.f.head
	for i := 0; i < n; i++ {
		raw, msg, author, err := w.f.next()
		if err != nil {
			return err
		}
		blob, err := w.put(plumbing.BlobObject, raw)
		if err != nil {
			return err
		}
		tree, err := w.put(plumbing.TreeObject, gitstore.EncodeTree([]gitstore.TreeEntry{{Name: gitstore.OpFile, Mode: "100644", Hash: gitstore.Hash(blob)}}))
		if err != nil {
			return err
		}
		c := &gitstore.Commit{Tree: gitstore.Hash(tree), Author: author, Committer: author, Message: msg}
		if !parent.IsZero() {
			c.Parents = []gitstore.Hash{parent}
		}
		h, err := w.put(plumbing.CommitObject, c.EncodeUnsigned())
		if err != nil {
			return err
		}
		parent = gitstore.Hash(h)
	}
	ref := plumbing.NewHashReference(w.Ref, plumbing.Hash(parent))
	if err := w.Storage.CheckAndSetReference(ref, w.old); err != nil {
		return err
	}
	w.old, w.f.head = ref, parent
	return nil
}

// Writer is one of the three writers.
type Writer interface{ Write(n int) error }

// Stats summarizes durations.
type Stats struct {
	N                int
	Min, Median, Max time.Duration
	Mean             time.Duration
	Total            time.Duration
	Samples          []time.Duration
}

// Summarize computes Stats of ds.
func Summarize(ds []time.Duration) Stats {
	s := Stats{N: len(ds), Samples: append([]time.Duration(nil), ds...)}
	if len(ds) == 0 {
		return s
	}
	sorted := append([]time.Duration(nil), ds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, d := range ds {
		s.Total += d
	}
	s.Min, s.Max, s.Mean = sorted[0], sorted[len(sorted)-1], s.Total/time.Duration(len(ds))
	if len(sorted)%2 == 1 {
		s.Median = sorted[len(sorted)/2]
	} else {
		s.Median = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	return s
}

// CPUTime is the CPU time (user and system) this process has used so
// far. On a shared machine the CPU time of a writer is a steadier figure
// than its wall time, which also counts waiting for a core.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// MedianFloat is the median of xs.
func MedianFloat(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// EnvInt reads a positive integer knob from the environment, or def.
func EnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// Workspace makes a temporary directory with an isolated home (see
// Isolate) and a covenant repository at <tmp>/repo. Call cleanup when done.
func Workspace(prefix string) (tmp, dir string, r *covenant.Service, cleanup func(), err error) {
	tmp, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", "", nil, nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	if err = Isolate(filepath.Join(tmp, "home"), os.Setenv); err != nil {
		cleanup()
		return "", "", nil, nil, err
	}
	dir = filepath.Join(tmp, "repo")
	if r, err = NewCovenantRepo(dir); err != nil {
		cleanup()
		return "", "", nil, nil, err
	}
	return tmp, dir, r, cleanup, nil
}
