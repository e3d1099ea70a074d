package gitstore

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Objects of a ref update are written as one pack under a .keep file, the
// protocol git's own receive-pack and fetch use for the same reason: git's
// maintenance never deletes a kept pack, and nothing else removes packed
// objects. A concurrent `git gc --prune=now` (or `git prune --expire=now`,
// which deletes every unreachable loose object whatever its time) or
// `git repack -a -d` (which drops every unreachable object of the packs it
// replaces) decides reachability when it starts and would otherwise delete
// the objects of an op whose ref moves meanwhile. Once the ref names them,
// the .keep is removed (UpdateRef, Release) and the pack is an ordinary
// one: a repack that lists packs after that walks refs after it too, and
// keeps them as reachable. Writers never take git's gc lock and never wait
// for maintenance.

// object is one object to pack.
type object struct {
	t       ObjectType
	content []byte
	h       Hash
}

// packType is the pack header type of an object kind.
func packType(t ObjectType) byte {
	switch t {
	case CommitObject:
		return 1
	case TreeObject:
		return 2
	case BlobObject:
		return 3
	case TagObject:
		return 4
	}
	return 0
}

// packEntry is where encodePack put one object.
type packEntry struct {
	h      Hash
	offset uint32
	crc    uint32
}

// encodePack builds a version 2 pack of objs (each once, undeltified) and
// returns it with its checksum, which names it, and where each object is.
func encodePack(objs []object) ([]byte, Hash, []packEntry, error) {
	var b bytes.Buffer
	b.WriteString("PACK")
	binary.Write(&b, binary.BigEndian, uint32(2))
	binary.Write(&b, binary.BigEndian, uint32(len(objs)))
	zw := zlib.NewWriter(nil)
	entries := make([]packEntry, 0, len(objs))
	for _, o := range objs {
		start := b.Len()
		if start >= 1<<31 {
			return nil, ZeroHash, nil, fmt.Errorf("pack of %d objects passes 2 GiB", len(objs))
		}
		size := uint64(len(o.content))
		c := packType(o.t)<<4 | byte(size&0x0f)
		size >>= 4
		for size > 0 {
			b.WriteByte(c | 0x80)
			c = byte(size & 0x7f)
			size >>= 7
		}
		b.WriteByte(c)
		zw.Reset(&b)
		if _, err := zw.Write(o.content); err != nil {
			return nil, ZeroHash, nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, ZeroHash, nil, err
		}
		entries = append(entries, packEntry{h: o.h, offset: uint32(start), crc: crc32.ChecksumIEEE(b.Bytes()[start:])})
	}
	sum := sha1.Sum(b.Bytes())
	b.Write(sum[:])
	return b.Bytes(), Hash(sum), entries, nil
}

// encodeIndex builds the version 2 pack index of a pack's entries.
func encodeIndex(entries []packEntry, packSum Hash) []byte {
	es := append([]packEntry(nil), entries...)
	sort.Slice(es, func(i, j int) bool { return bytes.Compare(es[i].h[:], es[j].h[:]) < 0 })
	var b bytes.Buffer
	b.Write([]byte{0xff, 't', 'O', 'c'})
	binary.Write(&b, binary.BigEndian, uint32(2))
	var fan [256]uint32
	for _, e := range es {
		fan[e.h[0]]++
	}
	n := uint32(0)
	for i := range fan {
		n += fan[i]
		binary.Write(&b, binary.BigEndian, n)
	}
	for _, e := range es {
		b.Write(e.h[:])
	}
	for _, e := range es {
		binary.Write(&b, binary.BigEndian, e.crc)
	}
	for _, e := range es {
		binary.Write(&b, binary.BigEndian, e.offset)
	}
	b.Write(packSum[:])
	sum := sha1.Sum(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

// keepText is what a git-covenant .keep file says, so that a person who
// finds one knows whose it is (git shows it in `git count-objects -v`).
const keepText = "git-covenant: objects of a ref update in progress\n"

// writeKept stores objs as one kept pack and returns the .keep's path.
// The order is git's own (index-pack --keep): the .keep first, then the
// .pack, then the .idx, each renamed into place whole. Git lists packs by
// their .idx, so no repack sees the pack unkept; and `git gc` deletes an
// .idx it finds without its .pack as garbage, so the .idx never comes
// first. A writer killed between the two renames leaves a .pack without
// an .idx, which git ignores and go-git is kept from listing (packListFS).
// A prune that removes a temporary file, or the pack directory, while the
// pack is written makes the write start again.
func (s *Store) writeKept(objs []object) (string, error) {
	pack, sum, entries, err := encodePack(objs)
	if err != nil {
		return "", err
	}
	idx := encodeIndex(entries, sum)
	dir := filepath.Join(s.CommonDir, "objects", "pack")
	base := filepath.Join(dir, "pack-"+hex.EncodeToString(sum[:]))
	keep := base + ".keep"
	for attempt := 0; attempt < writeAttempts; attempt++ {
		if err = os.MkdirAll(dir, 0o755); err != nil {
			continue
		}
		if err = os.WriteFile(keep, []byte(keepText), 0o644); err != nil {
			continue
		}
		if err = placeFile(dir, base+".pack", pack); err != nil {
			continue
		}
		if err = placeFile(dir, base+".idx", idx); err != nil {
			continue
		}
		s.addPack(pack)
		return keep, nil
	}
	os.Remove(keep)
	return "", fmt.Errorf("write pack: %w", err)
}

// placeFile writes b to a temporary file in dir and renames it to path,
// read-only as git makes pack files.
func placeFile(dir, path string, b []byte) error {
	f, err := os.CreateTemp(dir, "tmp_covenant_")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(f.Name(), 0o444)
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}

// addPack makes this Store's go-git storage list a pack just placed,
// without reloading every other pack's index: go-git's pack writer indexes
// the bytes and registers the index, then finds the pack and index already
// in place and only removes its own temporary copy. If that fails, the
// next read that misses lists the packs again (ReadObject).
func (s *Store) addPack(pack []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := s.storage.PackfileWriter()
	if err != nil {
		return
	}
	if _, err := w.Write(pack); err != nil {
		w.Close()
		return
	}
	w.Close()
}

// hold records that the objects up to head are kept by keep until a ref
// names head.
func (s *Store) hold(head Hash, keep string) {
	s.keepMu.Lock()
	defer s.keepMu.Unlock()
	if s.kept == nil {
		s.kept = map[Hash]string{}
	}
	s.kept[head] = keep
}

// Release removes the .keep that protects the objects BuildFeedCommits
// wrote for head: UpdateRef calls it once a ref names head, and a writer
// that gives up without moving a ref calls it so that git's maintenance may
// collect them. Releasing twice, or a head never built, does nothing.
func (s *Store) Release(head Hash) {
	s.keepMu.Lock()
	keep, ok := s.kept[head]
	delete(s.kept, head)
	s.keepMu.Unlock()
	if ok {
		os.Remove(keep)
	}
}

// packLimit is how many packs the pack directory may hold before a write
// rolls the small ones up (git's gc.autoPackLimit default).
const packLimit = 50

// rollUp merges small packs (and loose objects) into larger ones with
// `git repack -d -l --geometric=2` once more than packLimit packs exist,
// so that a pack per write does not slow every object lookup. A geometric
// repack keeps every object of the packs it merges, reachable or not, and
// never touches kept packs, so it is safe beside any writer. Errors are
// ignored: the next write tries again.
func (s *Store) rollUp() {
	es, err := os.ReadDir(filepath.Join(s.CommonDir, "objects", "pack"))
	if err != nil {
		return
	}
	n := 0
	for _, e := range es {
		if strings.HasSuffix(e.Name(), ".idx") {
			n++
		}
	}
	if n <= packLimit {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := s.Git().Output(ctx, []string{"-c", "repack.writeBitmaps=false", "repack", "-d", "-l", "-q", "--geometric=2"}); err != nil {
		return
	}
	// The packs this storage listed may be gone: list them again.
	s.mu.Lock()
	s.storage = newStorage(s.CommonDir)
	s.mu.Unlock()
}
