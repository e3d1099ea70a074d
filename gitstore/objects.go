package gitstore

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// ObjectType names the four git object kinds.
type ObjectType string

const (
	BlobObject   ObjectType = "blob"
	TreeObject   ObjectType = "tree"
	CommitObject ObjectType = "commit"
	TagObject    ObjectType = "tag"
)

func toPlumbingType(t ObjectType) plumbing.ObjectType {
	switch t {
	case BlobObject:
		return plumbing.BlobObject
	case TreeObject:
		return plumbing.TreeObject
	case CommitObject:
		return plumbing.CommitObject
	case TagObject:
		return plumbing.TagObject
	}
	return plumbing.InvalidObject
}

// HashObject computes the object name of content as git would, without writing it.
func HashObject(t ObjectType, content []byte) Hash {
	h := sha1.New()
	h.Write([]byte(string(t) + " " + strconv.Itoa(len(content)) + "\x00"))
	h.Write(content)
	var out Hash
	copy(out[:], h.Sum(nil))
	return out
}

// WriteObject stores content as a loose object and returns its name. Loose
// objects are written to a temporary file and renamed into place, so a
// killed process leaves either the whole object or none of it.
//
// Feed writes do not use it: BuildFeedCommits writes a kept pack, which no
// maintenance deletes (pack.go). A loose object is only as safe as git's
// own: a concurrent `git prune` with a default expiry deletes loose objects
// that no ref reaches and whose modification time is not newer than the
// expiry, which is why a new object's time is set PruneGrace into the
// future before it is renamed into place (git "freshens" objects the same way, by their time); but
// `--expire=now` (also `git gc --prune=now`) means every unreachable
// object, whatever its time. A prune can also remove the temporary file, or
// the empty objects/xx directory, while the object is being written; the
// write is then retried.
func (s *Store) WriteObject(t ObjectType, content []byte) (Hash, error) {
	var err error
	for attempt := 0; attempt < writeAttempts; attempt++ {
		var h Hash
		if h, err = s.writeLoose(t, content); err == nil {
			return h, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
		// pruned while being written: write it again
	}
	return ZeroHash, fmt.Errorf("write %s: %w", t, err)
}

// PruneGrace is how far into the future a new loose object's time is set,
// so that a concurrent `git prune --expire=now` leaves it alone while the
// op that names it is being published.
var PruneGrace = time.Hour

// writeAttempts bounds the retries of an object write that a concurrent
// prune interfered with.
const writeAttempts = 8

// ReadObject returns an object's type and content, checking that the content
// hashes to the requested name so a planted or damaged object is caught.
func (s *Store) ReadObject(h Hash) (ObjectType, []byte, error) {
	if t, content, ok, err := s.readOwn(h); ok {
		return t, content, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var obj plumbing.EncodedObject
	var err error
	for attempt := 0; ; attempt++ {
		if obj, err = s.storage.EncodedObject(plumbing.AnyObject, plumbing.Hash(h)); err == nil {
			break
		}
		if !retryRead(attempt, err) {
			break
		}
		// A concurrent repack may have moved the object into a pack this
		// storage has not listed yet, or deleted a pack it listed (go-git
		// then fails to open it, also while loading the indexes of every
		// listed pack): look again with fresh storage, for as long as
		// packs keep vanishing under the reads, and a few times, a little
		// later each, when the object is not found (see retryRead).
		s.storage = newStorage(s.CommonDir)
	}
	if err != nil {
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return "", nil, fmt.Errorf("%w: %s", ErrObjectNotFound, h)
		}
		if packVanished(err) {
			// Not a finding: the bytes were never seen.
			return "", nil, fmt.Errorf("read object %s: packs kept being removed while it was read: %w", h, err)
		}
		return "", nil, readError(h, err)
	}
	r, err := obj.Reader()
	if err != nil {
		return "", nil, readError(h, err)
	}
	defer r.Close()
	content, err := io.ReadAll(r)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s: %v", ErrCorruptObject, h, err)
	}
	t := ObjectType(obj.Type().String())
	if HashObject(t, content) != h {
		return "", nil, fmt.Errorf("%w: %s does not hash to its name", ErrCorruptObject, h)
	}
	return t, content, nil
}

// readError classifies a failure to read an object: an operating-system
// error (permissions, I/O) stays an error, anything else means the stored
// bytes do not decode (not zlib, bad header) and the object is corrupt.
func readError(h Hash, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("read object %s: %w", h, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrCorruptObject, h, err)
}

// ReadTyped reads an object and checks its type.
func (s *Store) ReadTyped(h Hash, want ObjectType) ([]byte, error) {
	t, content, err := s.ReadObject(h)
	if err != nil {
		return nil, err
	}
	if t != want {
		return nil, fmt.Errorf("%w: %s is a %s, want a %s", ErrWrongType, h, t, want)
	}
	return content, nil
}

// HasObject reports whether the object exists.
func (s *Store) HasObject(h Hash) bool {
	if _, _, ok, err := s.readOwn(h); ok && err == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 0; ; attempt++ {
		err := s.storage.HasEncodedObject(plumbing.Hash(h))
		if err == nil {
			return true
		}
		if !retryRead(attempt, err) {
			return false
		}
		s.storage = newStorage(s.CommonDir)
	}
}

// readAttempts bounds how often a read lists the packs again when packs it
// listed vanish under it (git's maintenance replacing them).
const readAttempts = 8

// notFoundAttempts bounds the fresh looks of a read whose object is not
// found. Beside `git gc`/`repack` a fresh listing of the packs can still
// miss an object that exists (observed: a writer's own feed head, once in
// about a third of the runs of TestWritersBesideGitMaintenance, which then
// reported its feed broken): git moves objects between loose files and
// packs in several steps, and a look that falls between them finds the
// object in neither. Each further look waits a little longer (1, 2, 4, 8
// ms), so an object that is really missing costs about 15 ms more, once.
const notFoundAttempts = 5

// retryRead reports whether a read that failed with err on the given
// attempt (0 for the first) should look again with fresh storage, waiting
// first where the object was not found.
func retryRead(attempt int, err error) bool {
	if attempt >= readAttempts {
		return false
	}
	if attempt == 0 || packVanished(err) {
		return true
	}
	if errors.Is(err, plumbing.ErrObjectNotFound) && attempt < notFoundAttempts {
		time.Sleep(time.Millisecond << (attempt - 1))
		return true
	}
	return false
}

// packVanished reports whether err is go-git failing to open a pack or
// index it had listed: a concurrent repack removed it.
func packVanished(err error) bool {
	return errors.Is(err, dotgit.ErrPackfileNotFound) || errors.Is(err, dotgit.ErrIdxNotFound) || errors.Is(err, fs.ErrNotExist)
}

// TreeEntry is one entry of a tree object.
type TreeEntry struct {
	Name string
	Mode string // "100644" for files, "40000" for trees
	Hash Hash
}

// IsTree reports whether the entry names a subtree.
func (e TreeEntry) IsTree() bool { return e.Mode == "40000" }

// EncodeTree serializes entries in git's canonical order.
func EncodeTree(entries []TreeEntry) []byte {
	sorted := append([]TreeEntry(nil), entries...)
	key := func(e TreeEntry) string {
		if e.IsTree() {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(sorted, func(i, j int) bool { return key(sorted[i]) < key(sorted[j]) })
	var b bytes.Buffer
	for _, e := range sorted {
		b.WriteString(e.Mode)
		b.WriteByte(' ')
		b.WriteString(e.Name)
		b.WriteByte(0)
		b.Write(e.Hash[:])
	}
	return b.Bytes()
}

// ParseTree decodes a tree object.
func ParseTree(content []byte) ([]TreeEntry, error) {
	var out []TreeEntry
	for len(content) > 0 {
		sp := bytes.IndexByte(content, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("%w: tree entry without mode", ErrCorruptObject)
		}
		nul := bytes.IndexByte(content[sp:], 0)
		if nul < 0 || sp+nul+21 > len(content) {
			return nil, fmt.Errorf("%w: truncated tree entry", ErrCorruptObject)
		}
		nul += sp
		var h Hash
		copy(h[:], content[nul+1:nul+21])
		out = append(out, TreeEntry{Mode: string(content[:sp]), Name: string(content[sp+1 : nul]), Hash: h})
		content = content[nul+21:]
	}
	return out, nil
}

// ReadTree reads and decodes a tree object.
func (s *Store) ReadTree(h Hash) ([]TreeEntry, error) {
	content, err := s.ReadTyped(h, TreeObject)
	if err != nil {
		return nil, err
	}
	return ParseTree(content)
}

// TreeFile resolves a slash-separated path inside a tree to a blob.
func (s *Store) TreeFile(tree Hash, path string) (Hash, bool, error) {
	entries, err := s.ReadTree(tree)
	if err != nil {
		return ZeroHash, false, err
	}
	name, rest, deeper := bytes.Cut([]byte(path), []byte("/"))
	for _, e := range entries {
		if e.Name != string(name) {
			continue
		}
		if deeper {
			if !e.IsTree() {
				return ZeroHash, false, nil
			}
			return s.TreeFile(e.Hash, string(rest))
		}
		if e.IsTree() {
			return ZeroHash, false, nil
		}
		return e.Hash, true, nil
	}
	return ZeroHash, false, nil
}

// WalkCommits visits commits reachable from starts, newest first by
// committer time, at most limit of them, until fn returns false.
func (s *Store) WalkCommits(starts []Hash, limit int, fn func(Hash, *Commit) bool) error {
	return s.WalkCommitsExcept(starts, nil, limit, fn)
}

// WalkCommitsExcept is WalkCommits that neither visits nor walks past the
// commits in except (for example, those already checked).
func (s *Store) WalkCommitsExcept(starts, except []Hash, limit int, fn func(Hash, *Commit) bool) error {
	seen := map[Hash]bool{}
	for _, h := range except {
		seen[h] = true
	}
	type item struct {
		h Hash
		c *Commit
	}
	var queue []item
	push := func(h Hash) error {
		if seen[h] || h.IsZero() {
			return nil
		}
		seen[h] = true
		c, err := s.ReadCommit(h)
		if err != nil {
			return err
		}
		queue = append(queue, item{h, c})
		sort.SliceStable(queue, func(i, j int) bool { return queue[i].c.Committer.When.After(queue[j].c.Committer.When) })
		return nil
	}
	for _, h := range starts {
		if err := push(h); err != nil {
			return err
		}
	}
	for n := 0; len(queue) > 0 && n < limit; n++ {
		it := queue[0]
		queue = queue[1:]
		if !fn(it.h, it.c) {
			return nil
		}
		for _, p := range it.c.Parents {
			if err := push(p); err != nil {
				return err
			}
		}
	}
	return nil
}
