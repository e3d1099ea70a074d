package gitstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
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

// MaxSymrefDepth bounds how many symbolic refs ReadRef follows, as git's
// own limit does; a deeper chain is a loop or an attack.
const MaxSymrefDepth = 5

// ReadRef returns the value of a ref, looking at the loose file first and
// then packed-refs, as git does. A symbolic ref is followed at most
// MaxSymrefDepth deep; a longer chain, a loop or content that is not an
// object name is ErrBadRef.
func (s *Store) ReadRef(name string) (Hash, bool, error) {
	for depth := 0; ; depth++ {
		h, target, ok, err := s.readRefOnce(name)
		if err != nil || target == "" {
			return h, ok, err
		}
		if depth >= MaxSymrefDepth {
			return ZeroHash, false, fmt.Errorf("read ref %s: %w: symbolic refs nest deeper than %d (a loop?)", name, ErrBadRef, MaxSymrefDepth)
		}
		name = target
	}
}

// readRefOnce reads one ref without following it: its value, or the target
// of a symbolic ref.
func (s *Store) readRefOnce(name string) (Hash, string, bool, error) {
	b, err := readSmall(filepath.Join(s.CommonDir, filepath.FromSlash(name)))
	switch {
	case err == nil:
		h, target, err := parseRefContent(b)
		if err != nil {
			return ZeroHash, "", false, fmt.Errorf("read ref %s: %w", name, err)
		}
		return h, target, target == "", nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall_EISDIR), errors.Is(err, syscall_ENOTDIR):
	default:
		return ZeroHash, "", false, fmt.Errorf("read ref %s: %w", name, err)
	}
	packed, _, err := s.packedRefs(name)
	if err != nil {
		return ZeroHash, "", false, err
	}
	h, ok := packed[name]
	return h, "", ok, nil
}

// parseRefContent decodes a loose ref file: an object name, or "ref: "
// and the name of another ref.
func parseRefContent(b []byte) (Hash, string, error) {
	line := strings.TrimSpace(string(b))
	if target, ok := strings.CutPrefix(line, "ref: "); ok {
		if !validRefName(target) && target != "HEAD" {
			return ZeroHash, "", fmt.Errorf("%w: symbolic ref to %q", ErrBadRef, target)
		}
		return ZeroHash, target, nil
	}
	h, err := ParseHash(line)
	if err != nil {
		return ZeroHash, "", fmt.Errorf("%w: %v", ErrBadRef, err)
	}
	return h, "", nil
}

// BadRef is a ref that ListRefs skipped because it is not a plain object
// name: a symbolic ref, garbage, or a packed-refs line that does not parse.
type BadRef struct {
	Name   string
	Reason string
}

// ListRefs returns every ref whose name starts with prefix (a directory
// prefix such as "refs/covenant/feeds/"), loose refs overriding packed ones.
// Refs that are not plain object names are left out (see ScanRefs).
func (s *Store) ListRefs(prefix string) (map[string]Hash, error) {
	refs, _, err := s.ScanRefs(prefix)
	return refs, err
}

// ScanRefs is ListRefs that also returns the refs it left out and why, so
// that one bad ref is reported rather than stopping every reader.
//
// Loose refs are read before packed-refs: `git pack-refs` writes a ref into
// packed-refs before it deletes the loose file, so read in this order a ref
// being packed is seen in one place or the other, never in neither.
func (s *Store) ScanRefs(prefix string) (map[string]Hash, []BadRef, error) {
	out := map[string]Hash{}
	bad := map[string]string{}
	root := filepath.Join(s.CommonDir, filepath.FromSlash(prefix))
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // removed while listing
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
		b, err := readSmall(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // deleted while listing
				return nil
			}
			return err
		}
		h, target, err := parseRefContent(b)
		switch {
		case err != nil:
			bad[name] = err.Error()
		case target != "":
			bad[name] = "symbolic ref to " + target
		default:
			out[name] = h
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	packed, packedBad, err := s.packedRefs(prefix)
	if err != nil {
		return nil, nil, err
	}
	for name, h := range packed {
		if _, loose := out[name]; !loose && bad[name] == "" {
			out[name] = h
		}
	}
	for _, b := range packedBad {
		if _, loose := out[b.Name]; !loose && bad[b.Name] == "" {
			bad[b.Name] = b.Reason
		}
	}
	var list []BadRef
	for n, r := range bad {
		list = append(list, BadRef{Name: n, Reason: r})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return out, list, nil
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
	// A missing directory is made when creating the lock says so.
	lockPath := path + ".lock"
	lock, err := s.acquireLock(lockPath, new)
	if err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	committed := false
	defer func() {
		if !committed {
			lock.abort()
		}
		s.clearIntent()
	}()
	// Not ReadRef: a symbolic ref here would make the rename below replace
	// the link, not move its target.
	cur, target, ok, err := s.readRefOnce(name)
	if err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	if target != "" {
		return fmt.Errorf("update %s: %w: it is a symbolic ref to %s", name, ErrBadRef, target)
	}
	if (old.IsZero() && ok) || (!old.IsZero() && cur != old) {
		return fmt.Errorf("update %s: %w (expected %s, found %s)", name, ErrRefConflict, shortOrNone(old), shortOrNone(cur))
	}
	if err := lock.commit(path, new); err != nil {
		return err
	}
	committed = true
	// The ref names the objects now: git's maintenance keeps them as
	// reachable, so their pack need not be kept any more.
	s.Release(new)
	return nil
}

// refLock is a held <ref>.lock. With an intent file it was made as a hard
// link to a file of this process's own (tmp, in the intent's directory,
// already holding the new value), so that recovery can tell it from any
// other process's lock at the same path: only ours is the same file as tmp
// for as long as tmp exists. Without one it is a file created O_EXCL.
type refLock struct {
	path string
	tmp  string   // "" for an O_EXCL lock
	f    *os.File // the O_EXCL lock's file, to write the value into
}

func (l *refLock) commit(ref string, value Hash) error {
	if l.f != nil {
		if _, err := l.f.WriteString(value.String() + "\n"); err != nil {
			return err
		}
		if err := l.f.Close(); err != nil {
			return err
		}
		l.f = nil
	}
	if err := rename(l.path, ref); err != nil {
		return err
	}
	if l.tmp != "" {
		os.Remove(l.tmp)
	}
	return nil
}

func (l *refLock) abort() {
	if l.f != nil {
		l.f.Close()
	}
	os.Remove(l.path)
	if l.tmp != "" {
		os.Remove(l.tmp)
	}
}

func shortOrNone(h Hash) string {
	if h.IsZero() {
		return "nothing"
	}
	return h.Short()
}

// acquireLock creates lockPath exclusively, waiting with backoff while
// another process holds it.
func (s *Store) acquireLock(lockPath string, value Hash) (*refLock, error) {
	tmp := ""
	if s.intentPath != "" {
		// Not os.CreateTemp: its 0600 would become the ref file's mode.
		name := filepath.Join(filepath.Dir(s.intentPath), fmt.Sprintf("ref-lock-%d-%d.tmp", pid, time.Now().UnixNano()))
		if fd, err := createExcl(name, 0o644); err == nil {
			werr := writeAll(fd, []byte(value.String()+"\n"))
			if cerr := syscall.Close(fd); werr != nil || cerr != nil {
				os.Remove(name)
			} else {
				tmp = name
			}
		}
	}
	deadline := time.Now().Add(LockTimeout)
	wait := time.Millisecond
	for {
		s.writeIntent(lockPath, value, tmp)
		var l *refLock
		var err error
		if tmp != "" {
			if err = os.Link(tmp, lockPath); err == nil {
				l = &refLock{path: lockPath, tmp: tmp}
			} else if !errors.Is(err, fs.ErrExist) && !errors.Is(err, fs.ErrNotExist) {
				// No hard links here: fall back to a plain lock file.
				os.Remove(tmp)
				tmp = ""
				continue
			}
		} else {
			var f *os.File
			if f, err = os.OpenFile(lockPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
				l = &refLock{path: lockPath, f: f}
			}
		}
		if err == nil {
			return l, nil
		}
		s.clearIntent()
		if errors.Is(err, fs.ErrNotExist) {
			// `git pack-refs` or `git gc` removed the ref's (empty)
			// directory after we made it: make it again.
			if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
				return nil, err
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("create %s: %w", lockPath, err)
			}
			continue
		}
		if !errors.Is(err, fs.ErrExist) {
			if tmp != "" {
				os.Remove(tmp)
			}
			return nil, err
		}
		if time.Now().After(deadline) {
			if tmp != "" {
				os.Remove(tmp)
			}
			return nil, &LockError{Path: lockPath, Reason: "it exists and has not been released", Err: ErrRefLocked}
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
func (s *Store) SetIntentPath(p string) {
	s.intentMu.Lock()
	defer s.intentMu.Unlock()
	s.closeIntentFile()
	s.intentPath = p
}

// closeIntentFile closes the intent file kept open between ref updates;
// called with intentMu held.
func (s *Store) closeIntentFile() {
	if s.intentF != nil {
		s.intentF.Close()
		s.intentF = nil
	}
}

// The intent file is rewritten in place and never truncated or removed on
// the write path: freeing and reallocating its data block (or creating the
// file) on every write was a large part of an op write's cost on the disks
// we measured (docs/perf.md), while overwriting a block in place is cheap.
// A record is "<lock path>\n<value>\n<own file>\n" at offset 0; bytes after
// it are left over from a longer earlier record. <own file> is the file the
// lock is (or is about to be) a hard link to, "-" if none. A newline at
// offset 0, or an empty file, means no intent.
func (s *Store) writeIntent(lockPath string, value Hash, own string) {
	if own == "" {
		own = "-"
	}
	s.writeIntentAt([]byte(lockPath + "\n" + value.String() + "\n" + own + "\n"))
}

func (s *Store) clearIntent() { s.writeIntentAt([]byte("\n")) }

// The file stays open while the intent path is set (the writer lock is
// held), so a record costs one write.
func (s *Store) writeIntentAt(b []byte) {
	s.intentMu.Lock()
	defer s.intentMu.Unlock()
	if s.intentPath == "" {
		return
	}
	if s.intentF == nil {
		f, err := os.OpenFile(s.intentPath, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return
		}
		s.intentF = f
	}
	s.intentF.WriteAt(b, 0)
}

// RecoverStaleLock removes a ref lock abandoned by a writer that was killed
// between taking the lock and renaming it, as recorded in the intent file.
// It removes only a lock that is the very file the dead writer made (the
// same file as its own file named in the intent, which still exists, so
// its inode cannot have been reused). A lock any other process created at
// the same path (a `git update-ref` holding it while its transaction is
// prepared) is another file and is never removed, whatever the intent
// says. The caller holds the writer lock, so no live writer of ours is
// using the own file.
func (s *Store) RecoverStaleLock() (string, error) {
	s.intentMu.Lock()
	defer s.intentMu.Unlock()
	if s.intentPath == "" {
		return "", nil
	}
	// The intent file may be removed below: write the next record to a
	// new one.
	s.closeIntentFile()
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
	if len(lines) < 3 || lines[2] == "-" || filepath.Dir(lines[2]) != filepath.Dir(s.intentPath) {
		s.removeOwnFiles()
		return "", os.Remove(s.intentPath)
	}
	lockPath, own := lines[0], lines[2]
	defer s.removeOwnFiles()
	ofi, err1 := os.Stat(own)
	lfi, err2 := os.Lstat(lockPath)
	if err1 != nil || err2 != nil || !os.SameFile(ofi, lfi) {
		return "", os.Remove(s.intentPath)
	}
	if err := os.Remove(lockPath); err != nil {
		return "", err
	}
	os.Remove(s.intentPath)
	return lockPath, nil
}

// removeOwnFiles removes the files dead writers made to link their locks
// to; the caller holds the writer lock, so none is in use.
func (s *Store) removeOwnFiles() {
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(s.intentPath), "ref-lock-*.tmp"))
	for _, p := range left {
		os.Remove(p)
	}
}
