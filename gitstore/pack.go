package gitstore

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
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
// for maintenance (docs/adr/0017-kept-pack-writes.md).
//
// A pack per write would make every object lookup look through more and
// more indexes, so a Store rolls up the packs it wrote itself (rollOwn):
// once rollBatch of them are released it copies their entries, which are
// never deltas, into one pack beside them, then deletes them, .idx first.
// Only released packs are rolled up, so every object in a roll-up is
// either named by a ref or garbage: the roll-up needs no .keep, and a
// repack that lists it keeps what a ref names. Packs of other writers are
// left to `git repack --geometric` (scanPacks) once the directory holds
// more than packLimit of them.
//
// This Store reads the objects of its own packs itself (readOwn), from
// where it put them, rather than having go-git parse every new pack again
// to learn its index.

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

// objectType is the object kind of a pack header type (0 for deltas and
// unknown types).
func objectType(b byte) ObjectType {
	switch b {
	case 1:
		return CommitObject
	case 2:
		return TreeObject
	case 3:
		return BlobObject
	case 4:
		return TagObject
	}
	return ""
}

// packEntry is where a pack holds one object.
type packEntry struct {
	h      Hash
	offset uint32
	size   uint32 // bytes of the entry: header and zlib stream
	crc    uint32 // CRC-32 of those bytes, as the index records it
}

// maxPack is the largest pack written here: offsets are 31 bits in a
// version 2 index without its large-offset table.
const maxPack = 1<<31 - 1

// packBuilder assembles a version 2 pack of undeltified objects, each once.
type packBuilder struct {
	b       bytes.Buffer
	entries []packEntry
	seen    map[Hash]bool
}

func newPackBuilder(size int) *packBuilder {
	pb := &packBuilder{seen: map[Hash]bool{}}
	pb.b.Grow(size + 32)
	pb.b.WriteString("PACK")
	binary.Write(&pb.b, binary.BigEndian, uint32(2))
	binary.Write(&pb.b, binary.BigEndian, uint32(0)) // the count, set by finish
	return pb
}

// add compresses one object into the pack.
func (pb *packBuilder) add(o object) error {
	if pb.seen[o.h] {
		return nil
	}
	start := pb.b.Len()
	size := uint64(len(o.content))
	c := packType(o.t)<<4 | byte(size&0x0f)
	size >>= 4
	for size > 0 {
		pb.b.WriteByte(c | 0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	pb.b.WriteByte(c)
	// The level of loose objects (zlibPool): resetting a compressor of
	// zlib's default level clears half a megabyte of tables, three times
	// per op; git reads any level.
	zw := zlibPool.Get().(*zlib.Writer)
	zw.Reset(&pb.b)
	_, err := zw.Write(o.content)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	zlibPool.Put(zw)
	if err != nil {
		return err
	}
	return pb.note(o.h, start, crc32.ChecksumIEEE(pb.b.Bytes()[start:]))
}

// addRaw copies an entry of another pack whose bytes are raw (header and
// zlib stream of an undeltified object) and whose CRC-32 is crc.
func (pb *packBuilder) addRaw(h Hash, raw []byte, crc uint32) error {
	if pb.seen[h] {
		return nil
	}
	start := pb.b.Len()
	pb.b.Write(raw)
	return pb.note(h, start, crc)
}

func (pb *packBuilder) note(h Hash, start int, crc uint32) error {
	if pb.b.Len() > maxPack-20 {
		return fmt.Errorf("pack of %d objects passes 2 GiB", len(pb.entries)+1)
	}
	pb.seen[h] = true
	pb.entries = append(pb.entries, packEntry{h: h, offset: uint32(start), size: uint32(pb.b.Len() - start), crc: crc})
	return nil
}

// finish returns the pack with its checksum, which names it, and where
// each object is, in pack order.
func (pb *packBuilder) finish() ([]byte, Hash, []packEntry) {
	b := pb.b.Bytes()
	binary.BigEndian.PutUint32(b[8:12], uint32(len(pb.entries)))
	sum := sha1.Sum(b)
	pb.b.Write(sum[:])
	return pb.b.Bytes(), Hash(sum), pb.entries
}

// encodePack builds a version 2 pack of objs (each once, undeltified) and
// returns it with its checksum, which names it, and where each object is.
func encodePack(objs []object) ([]byte, Hash, []packEntry, error) {
	n := 0
	for _, o := range objs {
		n += len(o.content)/2 + 16
	}
	pb := newPackBuilder(n)
	for _, o := range objs {
		if err := pb.add(o); err != nil {
			return nil, ZeroHash, nil, err
		}
	}
	pack, sum, entries := pb.finish()
	return pack, sum, entries, nil
}

// encodeIndex builds the version 2 pack index of a pack's entries.
func encodeIndex(entries []packEntry, packSum Hash) []byte {
	es := append([]packEntry(nil), entries...)
	sort.Slice(es, func(i, j int) bool { return bytes.Compare(es[i].h[:], es[j].h[:]) < 0 })
	var b bytes.Buffer
	b.Grow(8 + 256*4 + len(es)*28 + 40)
	b.Write([]byte{0xff, 't', 'O', 'c'})
	binary.Write(&b, binary.BigEndian, uint32(2))
	var fan [256]uint32
	for _, e := range es {
		fan[e.h[0]]++
	}
	var word [4]byte
	n := uint32(0)
	for i := range fan {
		n += fan[i]
		binary.BigEndian.PutUint32(word[:], n)
		b.Write(word[:])
	}
	for _, e := range es {
		b.Write(e.h[:])
	}
	for _, e := range es {
		binary.BigEndian.PutUint32(word[:], e.crc)
		b.Write(word[:])
	}
	for _, e := range es {
		binary.BigEndian.PutUint32(word[:], e.offset)
		b.Write(word[:])
	}
	b.Write(packSum[:])
	sum := sha1.Sum(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

// keepText is what a git-covenant .keep file says, so that a person who
// finds one knows whose it is (git shows it in `git count-objects -v`),
// and a later writer can tell a killed writer's .keep from anyone else's
// (scanPacks).
const keepText = "git-covenant: objects of a ref update in progress\n"

// ownPack is a pack this Store wrote, whose objects it reads itself.
type ownPack struct {
	base     string // path without .pack/.idx
	entries  []packEntry
	data     []byte // the pack's bytes, kept until a single-write pack is rolled up
	released bool   // no .keep: a ref names its objects, or the write was given up
	rolled   bool   // made by rollOwn from other own packs
	gone     bool   // rolled up into another, or removed by git's maintenance
}

// objLoc is where one object of an own pack is.
type objLoc struct {
	p            *ownPack
	offset, size uint32
}

// packState is what a Store knows of the packs it wrote.
type packState struct {
	mu     sync.Mutex
	kept   map[Hash][]*ownPack // head built → its kept packs, until Release
	own    []*ownPack          // oldest first
	where  map[Hash]objLoc
	writes int // feed writes since the Store was opened
	// rollMu serializes maintain (roll-ups, directory scans).
	rollMu sync.Mutex
}

// packsDir is the pack directory of the repository.
func (s *Store) packsDir() string { return filepath.Join(s.CommonDir, "objects", "pack") }

// writeKept stores objs as one kept pack and returns it. The order is
// git's own (index-pack --keep): the .keep first, then the .pack, then the
// .idx, each renamed into place whole. Git lists packs by their .idx, so no
// repack sees the pack unkept; and `git gc` deletes an .idx it finds
// without its .pack as garbage, so the .idx never comes first. A writer
// killed between the two renames leaves a .pack without an .idx, which git
// ignores and go-git is kept from listing (packListFS). A prune that
// removes a temporary file, or the pack directory, while the pack is
// written makes the write start again.
func (s *Store) writeKept(objs []object) (*ownPack, error) {
	pack, sum, entries, err := encodePack(objs)
	if err != nil {
		return nil, err
	}
	idx := encodeIndex(entries, sum)
	dir := s.packsDir()
	base := filepath.Join(dir, "pack-"+hex.EncodeToString(sum[:]))
	keep := base + ".keep"
	for attempt := 0; attempt < writeAttempts; attempt++ {
		if err = writeNew(dir, keep, []byte(keepText), 0o644, false); err != nil {
			continue
		}
		if err = placePack(dir, base, pack, idx); err != nil {
			continue
		}
		p := &ownPack{base: base, entries: entries, data: pack}
		s.track(p)
		return p, nil
	}
	os.Remove(keep)
	return nil, fmt.Errorf("write pack: %w", err)
}

// writeNew writes b to path, replacing it, or as a new file when excl
// is set; a missing directory dir is made (a prune may remove an empty
// pack directory) and the create tried again.
func writeNew(dir, path string, b []byte, mode uint32, excl bool) error {
	flags := syscall.O_WRONLY | syscall.O_CREAT | syscall.O_CLOEXEC
	if excl {
		flags |= syscall.O_EXCL
	} else {
		flags |= syscall.O_TRUNC
	}
	fd, err := openFile(path, flags, mode)
	if errors.Is(err, fs.ErrNotExist) {
		if merr := os.MkdirAll(dir, 0o755); merr != nil {
			return merr
		}
		fd, err = openFile(path, flags, mode)
	}
	if err != nil {
		return &fs.PathError{Op: "create", Path: path, Err: err}
	}
	err = writeAll(fd, b)
	if cerr := syscall.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return &fs.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

// placePack writes a pack and its index under temporary names, read-only
// as git makes pack files, and renames the .pack, then the .idx, into
// place at base, so the two renames are all that lies between a pack git
// ignores and one it lists.
func placePack(dir, base string, pack, idx []byte) error {
	tmpPack := tempName(dir, "pack")
	if err := writeNew(dir, tmpPack, pack, 0o444, true); err != nil {
		return err
	}
	tmpIdx := tempName(dir, "idx")
	if err := writeNew(dir, tmpIdx, idx, 0o444, true); err != nil {
		os.Remove(tmpPack)
		return err
	}
	if err := rename(tmpPack, base+".pack"); err != nil {
		os.Remove(tmpPack)
		os.Remove(tmpIdx)
		return err
	}
	if err := rename(tmpIdx, base+".idx"); err != nil {
		// A prune took the temporary index: the .pack alone is ignored
		// by git and by reads here, and the next attempt renames a new
		// one over it.
		os.Remove(tmpIdx)
		return err
	}
	return nil
}

// tempName is a new temporary file name in the pack directory, with the
// tmp_ prefix git's prune knows to collect.
func tempName(dir, ext string) string {
	return filepath.Join(dir, "tmp_covenant_"+strconv.Itoa(pid)+"_"+strconv.FormatUint(tmpSeq.Add(1), 10)+"_"+ext)
}

// track records an own pack and where its objects are.
func (s *Store) track(p *ownPack) {
	ps := &s.packs
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.where == nil {
		ps.where = map[Hash]objLoc{}
	}
	ps.own = append(ps.own, p)
	for _, e := range p.entries {
		ps.where[e.h] = objLoc{p: p, offset: e.offset, size: e.size}
	}
}

// readOwn reads an object of an own pack from its file, checking that it
// hashes to its name. ok is false when h is not in an own pack, or the
// pack is gone (git's maintenance may remove a released pack): the caller
// then looks for it as for any other object.
func (s *Store) readOwn(h Hash) (t ObjectType, content []byte, ok bool, err error) {
	for attempt := 0; attempt < 2; attempt++ {
		s.packs.mu.Lock()
		loc, found := s.packs.where[h]
		s.packs.mu.Unlock()
		if !found {
			return "", nil, false, nil
		}
		raw, rerr := readAt(loc.p.base+".pack", int64(loc.offset), int(loc.size))
		if errors.Is(rerr, fs.ErrNotExist) {
			// Rolled up meanwhile (look again), or removed by a repack.
			s.packs.mu.Lock()
			if cur, still := s.packs.where[h]; still && cur == loc {
				s.forget(loc.p)
			}
			s.packs.mu.Unlock()
			continue
		}
		if rerr != nil {
			return "", nil, true, fmt.Errorf("read object %s: %w", h, rerr)
		}
		t, content, err = inflateEntry(raw)
		if err != nil {
			return "", nil, true, fmt.Errorf("%w: %s: %v", ErrCorruptObject, h, err)
		}
		if HashObject(t, content) != h {
			return "", nil, true, fmt.Errorf("%w: %s does not hash to its name", ErrCorruptObject, h)
		}
		return t, content, true, nil
	}
	return "", nil, false, nil
}

// forget stops reading p's objects from p (s.packs.mu held).
func (s *Store) forget(p *ownPack) {
	ps := &s.packs
	p.gone, p.data = true, nil
	for _, e := range p.entries {
		if loc, ok := ps.where[e.h]; ok && loc.p == p {
			delete(ps.where, e.h)
		}
	}
	for i, q := range ps.own {
		if q == p {
			ps.own = append(ps.own[:i], ps.own[i+1:]...)
			break
		}
	}
}

// readAt reads n bytes of path at off.
func readAt(path string, off int64, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		return nil, err
	}
	return b, nil
}

// inflateEntry decodes an undeltified pack entry.
func inflateEntry(raw []byte) (ObjectType, []byte, error) {
	if len(raw) == 0 {
		return "", nil, errors.New("empty pack entry")
	}
	t := objectType(raw[0] >> 4 & 7)
	if t == "" {
		return "", nil, fmt.Errorf("pack entry of type %d", raw[0]>>4&7)
	}
	size := uint64(raw[0] & 0x0f)
	shift := uint(4)
	i := 1
	for c := raw[0]; c&0x80 != 0; shift += 7 {
		if i >= len(raw) || shift > 56 {
			return "", nil, errors.New("bad pack entry header")
		}
		c = raw[i]
		i++
		size |= uint64(c&0x7f) << shift
	}
	if size > uint64(maxPack)*64 {
		return "", nil, errors.New("pack entry too large")
	}
	zr, err := zlib.NewReader(bytes.NewReader(raw[i:]))
	if err != nil {
		return "", nil, err
	}
	content := make([]byte, size)
	if _, err := io.ReadFull(zr, content); err != nil {
		return "", nil, err
	}
	var one [1]byte
	if n, _ := zr.Read(one[:]); n != 0 {
		return "", nil, errors.New("pack entry longer than its header says")
	}
	return t, content, nil
}

// Objects gathers the new objects of one ref update, to be written
// together as one kept pack by WriteKept. The zero value is empty.
type Objects struct {
	objs []object
	seen map[Hash]bool
}

// Add adds an object (once, however often it is added) and returns its name.
func (o *Objects) Add(t ObjectType, content []byte) Hash {
	h := HashObject(t, content)
	if o.seen == nil {
		o.seen = map[Hash]bool{}
	}
	if !o.seen[h] {
		o.seen[h] = true
		o.objs = append(o.objs, object{t: t, content: content, h: h})
	}
	return h
}

// Len is how many objects o holds.
func (o *Objects) Len() int { return len(o.objs) }

// WriteKept writes objs as one pack kept from git's maintenance until
// UpdateRef moves a ref to head (or the caller, giving up, calls Release
// with head): the way every write of a ref here publishes its objects, so
// that a concurrent `git gc --prune=now` cannot delete them before the ref
// names them (see the comment at the top of this file). Objects that
// already exist need not be added when a ref reaches them. Nothing is
// written for an empty objs.
func (s *Store) WriteKept(objs *Objects, head Hash) error {
	if objs.Len() == 0 {
		return nil
	}
	s.maintain()
	p, err := s.writeKept(objs.objs)
	if err != nil {
		return err
	}
	s.hold(head, p)
	return nil
}

// hold records that the objects up to head are kept by p until a ref
// names head.
func (s *Store) hold(head Hash, p *ownPack) {
	s.packs.mu.Lock()
	defer s.packs.mu.Unlock()
	if s.packs.kept == nil {
		s.packs.kept = map[Hash][]*ownPack{}
	}
	s.packs.kept[head] = append(s.packs.kept[head], p)
}

// Release removes the .keep files that protect the objects written for
// head (BuildFeedCommits, WriteKept): UpdateRef calls it once a ref names
// head, and a writer that gives up without moving a ref calls it so that
// git's maintenance may collect them. Releasing twice, or a head never
// built, does nothing.
func (s *Store) Release(head Hash) {
	s.packs.mu.Lock()
	ps, ok := s.packs.kept[head]
	delete(s.packs.kept, head)
	s.packs.mu.Unlock()
	if !ok {
		return
	}
	for _, p := range ps {
		if !s.keptElsewhere(p) {
			os.Remove(p.base + ".keep")
		}
	}
	s.packs.mu.Lock()
	for _, p := range ps {
		p.released = true
	}
	s.packs.mu.Unlock()
}

// keptElsewhere reports whether another head still holds a pack of the
// same name as p (two writes of the same objects make the same pack).
func (s *Store) keptElsewhere(p *ownPack) bool {
	s.packs.mu.Lock()
	defer s.packs.mu.Unlock()
	for _, q := range s.packs.kept {
		for _, o := range q {
			if o.base == p.base {
				return true
			}
		}
	}
	return false
}
