package gitstore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LockTimeout bounds how long UpdateRef waits for another process's
// <ref>.lock to disappear.
var LockTimeout = 3 * time.Second

// validRefName applies the subset of git-check-ref-format rules that matter
// for refs git-covenant writes.
func validRefName(name string) bool {
	if !strings.HasPrefix(name, "refs/") || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".lock") {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part[0] == '.' {
			return false
		}
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return false
		}
	}
	return !strings.Contains(name, "..") && !strings.Contains(name, "@{")
}

// ReadRef returns the value of a ref, looking at the loose file first and
// then packed-refs, as git does.
func (s *Store) ReadRef(name string) (Hash, bool, error) {
	b, err := os.ReadFile(filepath.Join(s.CommonDir, filepath.FromSlash(name)))
	switch {
	case err == nil:
		line := strings.TrimSpace(string(b))
		if strings.HasPrefix(line, "ref: ") {
			return s.ReadRef(strings.TrimPrefix(line, "ref: "))
		}
		h, err := ParseHash(line)
		if err != nil {
			return ZeroHash, false, fmt.Errorf("read ref %s: %w", name, err)
		}
		return h, true, nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall_EISDIR):
	default:
		return ZeroHash, false, fmt.Errorf("read ref %s: %w", name, err)
	}
	packed, err := s.packedRefs(name)
	if err != nil {
		return ZeroHash, false, err
	}
	h, ok := packed[name]
	return h, ok, nil
}

// packedRefs parses packed-refs, keeping the refs that start with prefix.
func (s *Store) packedRefs(prefix string) (map[string]Hash, error) {
	out := map[string]Hash{}
	f, err := os.Open(filepath.Join(s.CommonDir, "packed-refs"))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) < 42 || line[0] == '#' || line[0] == '^' {
			continue
		}
		name := string(line[41:])
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		h, err := ParseHash(string(line[:40]))
		if err != nil {
			return nil, fmt.Errorf("packed-refs: %w", err)
		}
		out[name] = h
	}
	return out, sc.Err()
}

// ListRefs returns every ref whose name starts with prefix (a directory
// prefix such as "refs/covenant/feeds/"), loose refs overriding packed ones.
func (s *Store) ListRefs(prefix string) (map[string]Hash, error) {
	out, err := s.packedRefs(prefix)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(s.CommonDir, filepath.FromSlash(prefix))
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasSuffix(path, ".lock") {
			return nil
		}
		rel, err := filepath.Rel(s.CommonDir, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		b, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // deleted while listing
				return nil
			}
			return err
		}
		h, err := ParseHash(strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("ref %s: %w", name, err)
		}
		out[name] = h
		return nil
	})
	return out, err
}

// UpdateRef moves name from old to new atomically, using git's lock-file
// protocol: it creates <ref>.lock exclusively, checks the current value,
// writes the new value into the lock and renames it over the ref. A
// concurrent git process therefore either sees the old or the new value and
// cannot interleave. old == ZeroHash means the ref must not exist yet.
// ErrRefConflict reports a lost race; nothing is written then.
func (s *Store) UpdateRef(name string, old, new Hash) error {
	if !validRefName(name) {
		return fmt.Errorf("%w: %q", ErrBadRefName, name)
	}
	path := filepath.Join(s.CommonDir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	lockPath := path + ".lock"
	lock, err := s.acquireLock(lockPath, new)
	if err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	committed := false
	defer func() {
		if !committed {
			lock.Close()
			os.Remove(lockPath)
		}
		s.clearIntent()
	}()
	cur, ok, err := s.ReadRef(name)
	if err != nil {
		return err
	}
	if (old.IsZero() && ok) || (!old.IsZero() && cur != old) {
		return fmt.Errorf("update %s: %w (expected %s, found %s)", name, ErrRefConflict, shortOrNone(old), shortOrNone(cur))
	}
	if _, err := lock.WriteString(new.String() + "\n"); err != nil {
		return err
	}
	if err := lock.Close(); err != nil {
		return err
	}
	if err := os.Rename(lockPath, path); err != nil {
		return err
	}
	committed = true
	return nil
}

func shortOrNone(h Hash) string {
	if h.IsZero() {
		return "nothing"
	}
	return h.Short()
}

// acquireLock creates lockPath exclusively, waiting with backoff while
// another process holds it.
func (s *Store) acquireLock(lockPath string, value Hash) (*os.File, error) {
	deadline := time.Now().Add(LockTimeout)
	wait := time.Millisecond
	for {
		s.writeIntent(lockPath, value)
		f, err := os.OpenFile(lockPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			return f, nil
		}
		s.clearIntent()
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %s exists; if no git process is running, remove it", ErrRefLocked, lockPath)
		}
		time.Sleep(wait)
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// IntentPath, when set, names a file where UpdateRef records the lock it is
// about to take. The caller must serialize writers (git-covenant holds its
// writer lock), so that RecoverStaleLock can tell a lock abandoned by a
// killed writer from one held by a live git process.
func (s *Store) SetIntentPath(p string) { s.intentPath = p }

// The intent file is rewritten in place and never truncated or removed on
// the write path: freeing and reallocating its data block (or creating the
// file) on every write was a large part of an op write's cost on the disks
// we measured (docs/perf.md), while overwriting a block in place is cheap.
// A record is "<lock path>\n<value>\n" at offset 0; bytes after it are left
// over from a longer earlier record. A newline at offset 0, or an empty
// file, means no intent.
func (s *Store) writeIntent(lockPath string, value Hash) {
	s.writeIntentAt([]byte(lockPath + "\n" + value.String() + "\n"))
}

func (s *Store) clearIntent() { s.writeIntentAt([]byte("\n")) }

func (s *Store) writeIntentAt(b []byte) {
	if s.intentPath == "" {
		return
	}
	f, err := os.OpenFile(s.intentPath, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	f.WriteAt(b, 0)
	f.Close()
}

// RecoverStaleLock removes a ref lock abandoned by a writer that was killed
// between taking the lock and renaming it, as recorded in the intent file.
// It only removes a lock created after the intent and holding nothing or the
// value the dead writer meant to write.
func (s *Store) RecoverStaleLock() (string, error) {
	if s.intentPath == "" {
		return "", nil
	}
	b, err := os.ReadFile(s.intentPath)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if len(b) == 0 || b[0] == '\n' {
		return "", nil // no intent recorded
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 {
		return "", os.Remove(s.intentPath)
	}
	lockPath, value := lines[0], lines[1]
	ifi, err1 := os.Stat(s.intentPath)
	lfi, err2 := os.Stat(lockPath)
	if err1 == nil && err2 == nil && !lfi.ModTime().Before(ifi.ModTime()) {
		content, err := os.ReadFile(lockPath)
		if err == nil && (len(content) == 0 || bytes.Equal(bytes.TrimSpace(content), []byte(value))) {
			if err := os.Remove(lockPath); err != nil {
				return "", err
			}
			os.Remove(s.intentPath)
			return lockPath, nil
		}
	}
	return "", os.Remove(s.intentPath)
}
