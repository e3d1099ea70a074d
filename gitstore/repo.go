package gitstore

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Store is an open repository. It is safe for concurrent use; ref updates
// still need the caller to serialize writers (see SetIntentPath).
type Store struct {
	// WorkTree is the top of the working tree, or "" for a bare repository.
	WorkTree string
	// GitDir is the repository (or worktree-specific) git directory, holding HEAD.
	GitDir string
	// CommonDir holds objects and refs; it equals GitDir except in linked worktrees.
	CommonDir string

	// mu guards storage: go-git's object storage is not safe for
	// concurrent use, and one Store serves every goroutine of a
	// long-lived service.
	mu      sync.Mutex
	storage *filesystem.Storage
	// intentMu guards the intent file (see SetIntentPath), kept open
	// between ref updates.
	intentMu   sync.Mutex
	intentPath string
	intentF    *os.File
	packed     packedCache
	env        []string // what git children run with (see Git)

	packs packState // the packs this Store wrote (see pack.go)
}

// Open finds the repository containing dir and opens it, with an empty
// environment for git children; callers that run git use OpenEnv.
func Open(dir string) (*Store, error) { return OpenEnv(dir, nil) }

// OpenEnv finds the repository containing dir, honouring GIT_DIR and
// GIT_WORK_TREE of env like git does, and opens it. env is the whole
// environment git children of this Store run with (Store.Git).
func OpenEnv(dir string, env []string) (*Store, error) {
	s, err := discover(dir, env)
	if err != nil {
		return nil, err
	}
	s.env = env
	if err := s.checkFormat(); err != nil {
		return nil, err
	}
	s.storage = newStorage(s.CommonDir)
	return s, nil
}

// newStorage opens go-git's object storage on a common git directory.
// MaxOpenDescriptors keeps packfiles open between reads; without it go-git
// opens, stats and closes the pack for every object it reads.
func newStorage(commonDir string) *filesystem.Storage {
	fs := osfs.New(commonDir)
	return filesystem.NewStorageWithOptions(packListFS{fs}, cache.NewObjectLRU(16*cache.MiByte), filesystem.Options{MaxOpenDescriptors: 16, AlternatesFS: fs})
}

// fork returns a Store on the same repository with object storage of its
// own, for reading objects in parallel (go-git's storage is not safe for
// concurrent use). It writes no refs.
func (s *Store) fork() *Store {
	f := &Store{WorkTree: s.WorkTree, GitDir: s.GitDir, CommonDir: s.CommonDir, env: s.env}
	f.storage = newStorage(s.CommonDir)
	return f
}

// Git returns the git executor of this repository: it runs in the work
// tree (the git directory when bare) with the Store's environment.
func (s *Store) Git() *Git {
	dir := s.WorkTree
	if dir == "" {
		dir = s.GitDir
	}
	return &Git{Dir: dir, Env: s.env}
}

// Env returns the environment git children of this Store run with.
func (s *Store) Env() []string { return append([]string(nil), s.env...) }

// lookupEnv returns the last value of key in env, as a process would see it.
func lookupEnv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if rest, ok := strings.CutPrefix(kv, key+"="); ok {
			v = rest
		}
	}
	return v
}

func discover(dir string, env []string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if gd := lookupEnv(env, "GIT_DIR"); gd != "" {
		if !filepath.IsAbs(gd) {
			gd = filepath.Join(abs, gd)
		}
		s := &Store{GitDir: gd, WorkTree: lookupEnv(env, "GIT_WORK_TREE")}
		if s.WorkTree == "" && filepath.Base(gd) == ".git" {
			s.WorkTree = filepath.Dir(gd)
		}
		return s.withCommonDir()
	}
	for d := abs; ; d = filepath.Dir(d) {
		dotgit := filepath.Join(d, ".git")
		if fi, err := os.Stat(dotgit); err == nil {
			if fi.IsDir() {
				return (&Store{WorkTree: d, GitDir: dotgit}).withCommonDir()
			}
			b, err := os.ReadFile(dotgit)
			if err != nil {
				return nil, err
			}
			line := strings.TrimSpace(string(b))
			if !strings.HasPrefix(line, "gitdir: ") {
				return nil, fmt.Errorf("%w: %s is not a gitdir file", ErrNotRepository, dotgit)
			}
			gd := strings.TrimPrefix(line, "gitdir: ")
			if !filepath.IsAbs(gd) {
				gd = filepath.Join(d, gd)
			}
			return (&Store{WorkTree: d, GitDir: gd}).withCommonDir()
		}
		if isBareGitDir(d) {
			return (&Store{GitDir: d}).withCommonDir()
		}
		if d == filepath.Dir(d) {
			return nil, fmt.Errorf("%w (or any of the parent directories): %s", ErrNotRepository, abs)
		}
	}
}

func isBareGitDir(d string) bool {
	for _, n := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(d, n)); err != nil {
			return false
		}
	}
	return true
}

func (s *Store) withCommonDir() (*Store, error) {
	if !isBareGitDir(s.GitDir) {
		if _, err := os.Stat(filepath.Join(s.GitDir, "HEAD")); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrNotRepository, s.GitDir)
		}
	}
	s.CommonDir = s.GitDir
	if b, err := os.ReadFile(filepath.Join(s.GitDir, "commondir")); err == nil {
		cd := strings.TrimSpace(string(b))
		if !filepath.IsAbs(cd) {
			cd = filepath.Join(s.GitDir, cd)
		}
		s.CommonDir = filepath.Clean(cd)
	}
	return s, nil
}

// checkFormat refuses repositories whose object or ref format this build
// cannot write correctly (SHA-256 objects, reftable refs).
func (s *Store) checkFormat() error {
	f, err := os.Open(filepath.Join(s.CommonDir, "config"))
	if err != nil {
		return nil
	}
	defer f.Close()
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = strings.ToLower(strings.Trim(line, "[] "))
			continue
		}
		if section != "extensions" {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.ToLower(strings.TrimSpace(v))
		if k == "objectformat" && v != "sha1" {
			return fmt.Errorf("%w: objectFormat=%s (only sha1 repositories are supported)", ErrUnsupportedRepository, v)
		}
		if k == "refstorage" && v != "files" {
			return fmt.Errorf("%w: refStorage=%s (only the files ref backend is supported)", ErrUnsupportedRepository, v)
		}
	}
	return nil
}

// Head returns the commit HEAD points at, resolving one level of symbolic
// ref, or ZeroHash on an unborn branch.
func (s *Store) Head() (Hash, string, error) {
	b, err := os.ReadFile(filepath.Join(s.GitDir, "HEAD"))
	if err != nil {
		return ZeroHash, "", err
	}
	b = bytes.TrimSpace(b)
	if rest, ok := bytes.CutPrefix(b, []byte("ref: ")); ok {
		name := string(rest)
		h, ok, err := s.ReadRef(name)
		if err != nil || !ok {
			return ZeroHash, name, err
		}
		return h, name, nil
	}
	h, err := ParseHash(string(b))
	return h, "", err
}

// CovenantDir returns the local-only directory git-covenant keeps its derived
// state in (.git/covenant in the common directory), creating it if needed.
func (s *Store) CovenantDir() (string, error) {
	d := filepath.Join(s.CommonDir, "covenant")
	return d, os.MkdirAll(d, 0o755)
}
