package gitstore

import (
	"context"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// packLimit is how many packs the pack directory may hold before a write
// has git roll the small ones up (git's gc.autoPackLimit default).
const packLimit = 50

// scanEvery is how many feed writes of a Store pass between looks at the
// pack directory (the first write of a Store looks too).
const scanEvery = 16

// rollBatch is how many released single-write packs a Store collects
// before it rolls them up.
const rollBatch = 16

// maxRolled is the size, in objects, from which a roll-up is left to git's
// maintenance: the Store no longer reads it itself nor rolls it up again,
// which bounds what it keeps in memory.
const maxRolled = 1 << 16

// KeepGrace is how old a git-covenant .keep must be before a writer takes
// it for one a killed writer left (its pack's objects are then either
// named by a ref or garbage) and removes it. A live writer holds its .keep
// only from building its commits to moving its ref.
const KeepGrace = 24 * time.Hour

// maintain keeps the number of packs bounded; BuildFeedCommits calls it
// before each write. Errors are ignored: a later write tries again.
func (s *Store) maintain() {
	ps := &s.packs
	ps.rollMu.Lock()
	defer ps.rollMu.Unlock()
	ps.mu.Lock()
	n := ps.writes
	ps.writes++
	ps.mu.Unlock()
	if n%scanEvery == 0 {
		s.scanPacks()
	}
	s.rollOwn()
}

// scanPacks looks at the pack directory: it removes the .keep files that
// killed git-covenant writers left (only ours, by their text, only older
// than KeepGrace, never one this Store holds), and once more than
// packLimit packs exist it merges the small ones with
// `git repack -d -l --geometric=2`. A geometric repack keeps every object
// of the packs it merges, reachable or not, and never touches kept packs,
// so it is safe beside any writer.
func (s *Store) scanPacks() {
	dir := s.packsDir()
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return
	}
	ps := &s.packs
	ps.mu.Lock()
	live := make(map[string]bool, len(ps.kept))
	for _, kept := range ps.kept {
		for _, p := range kept {
			live[p.base+".keep"] = true
		}
	}
	ps.mu.Unlock()
	packs := 0
	now := time.Now()
	for _, n := range names {
		if !strings.HasPrefix(n, "pack-") {
			continue
		}
		switch {
		case strings.HasSuffix(n, ".idx"):
			packs++
		case strings.HasSuffix(n, ".keep"):
			if p := filepath.Join(dir, n); !live[p] {
				removeStaleKeep(p, now)
			}
		}
	}
	if packs > packLimit {
		s.repackGeometric()
	}
}

// removeStaleKeep removes path if it is a git-covenant .keep older than
// KeepGrace, and the .pack beside it if that has no .idx: a writer (or a
// roll-up, which holds a .keep while it places its pack) killed between
// renaming the .pack and the .idx into place left them, and git never
// lists such a pack. Without our .keep an .idx-less .pack is left alone:
// nothing shows it is ours.
func removeStaleKeep(path string, now time.Time) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) < KeepGrace {
		return
	}
	if b, err := readSmall(path); err != nil || string(b) != keepText {
		return
	}
	base := strings.TrimSuffix(path, ".keep")
	if _, err := os.Lstat(base + ".idx"); errors.Is(err, fs.ErrNotExist) {
		os.Remove(base + ".pack")
	}
	os.Remove(path)
}

// repackGeometric runs git's geometric repack, then lists the packs again.
func (s *Store) repackGeometric() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := s.Git().Output(ctx, []string{"-c", "repack.writeBitmaps=false", "repack", "-d", "-l", "-q", "--geometric=2"}); err != nil {
		return
	}
	// Own packs it merged are read through go-git from now on.
	ps := &s.packs
	ps.mu.Lock()
	for _, p := range append([]*ownPack(nil), ps.own...) {
		if _, err := os.Lstat(p.base + ".idx"); errors.Is(err, fs.ErrNotExist) {
			s.forget(p)
		}
	}
	ps.mu.Unlock()
	s.mu.Lock()
	s.storage = newStorage(s.CommonDir)
	s.mu.Unlock()
}

// rollOwn rolls up this Store's released packs once rollBatch single-write
// packs are released: it copies their entries (undeltified, checked
// against their CRC-32) into one new pack, together with the newest
// earlier roll-ups smaller than twice what it takes (so that roll-ups stay
// a geometric series and every object is copied O(log n) times), places it
// beside them, and only then deletes them, each .idx before its .pack. A
// pack git's maintenance removed meanwhile is left out: a repack that
// removes a released pack keeps what a ref names. Nothing is rolled up or
// deleted beside a multi-pack-index, whose packs git manages itself.
func (s *Store) rollOwn() {
	ps := &s.packs
	type source struct {
		p    *ownPack
		data []byte
	}
	ps.mu.Lock()
	var small, rolled []*ownPack
	for _, p := range ps.own {
		if !p.released || p.gone {
			continue
		}
		if p.rolled {
			rolled = append(rolled, p)
		} else {
			small = append(small, p)
		}
	}
	if len(small) < rollBatch {
		ps.mu.Unlock()
		return
	}
	if hasMidx(s.packsDir()) {
		// Left to git; stop reading them here, so they are not kept in
		// memory for ever.
		for _, p := range small {
			s.forget(p)
		}
		ps.mu.Unlock()
		return
	}
	take := map[*ownPack]bool{}
	n := 0
	for _, p := range small {
		take[p] = true
		n += len(p.entries)
	}
	for i := len(rolled) - 1; i >= 0 && len(rolled[i].entries) < 2*n; i-- {
		take[rolled[i]] = true
		n += len(rolled[i].entries)
	}
	var from []source
	size := 0
	for _, p := range ps.own {
		if take[p] {
			from = append(from, source{p, p.data})
			for _, e := range p.entries {
				size += int(e.size)
			}
		}
	}
	ps.mu.Unlock()

	pb := newPackBuilder(size)
	var used []*ownPack
	for _, src := range from {
		p := src.p
		// A single-write pack's bytes are at hand (if git's maintenance
		// removed it meanwhile, copying them costs a duplicate at most).
		data, err := src.data, error(nil)
		if data == nil {
			data, err = os.ReadFile(p.base + ".pack")
		}
		if errors.Is(err, fs.ErrNotExist) {
			ps.mu.Lock()
			s.forget(p)
			ps.mu.Unlock()
			continue
		}
		if err != nil {
			return
		}
		for _, e := range p.entries {
			end := int(e.offset) + int(e.size)
			if end > len(data)-20 {
				return
			}
			raw := data[e.offset:end]
			if crc32.ChecksumIEEE(raw) != e.crc {
				return // damaged: left as it is, for fsck to find
			}
			if err := pb.addRaw(e.h, raw, e.crc); err != nil {
				return
			}
		}
		used = append(used, p)
	}
	if len(used) < 2 {
		return
	}
	pack, sum, entries := pb.finish()
	idx := encodeIndex(entries, sum)
	dir := s.packsDir()
	base := filepath.Join(dir, "pack-"+hex.EncodeToString(sum[:]))
	// A .keep of ours while the pack is placed, so that a roll-up killed
	// between its two renames leaves a .pack the next scan can tell for
	// its own (removeStaleKeep); kept or not, every object in it is
	// released.
	keep := base + ".keep"
	_, kerr := os.Lstat(keep)
	ownKeep := errors.Is(kerr, fs.ErrNotExist) && writeNew(dir, keep, []byte(keepText), 0o644, true) == nil
	var err error
	for attempt := 0; attempt < writeAttempts; attempt++ {
		if err = placePack(dir, base, pack, idx); err == nil {
			break
		}
	}
	if ownKeep {
		os.Remove(keep)
	}
	if err != nil {
		return
	}
	ps.mu.Lock()
	for _, p := range used {
		s.forget(p)
	}
	if len(entries) < maxRolled {
		r := &ownPack{base: base, entries: entries, released: true, rolled: true}
		ps.own = append(ps.own, r)
		for _, e := range entries {
			ps.where[e.h] = objLoc{p: r, offset: e.offset, size: e.size}
		}
	}
	ps.mu.Unlock()
	if hasMidx(dir) {
		return // made meanwhile: the small packs stay, duplicates
	}
	for _, p := range used {
		if _, err := os.Lstat(p.base + ".keep"); err == nil {
			continue // someone else keeps it
		}
		// The .pack stays if its .idx does: git lists packs by the .idx.
		if err := os.Remove(p.base + ".idx"); err == nil || errors.Is(err, fs.ErrNotExist) {
			os.Remove(p.base + ".pack")
		}
	}
}

// hasMidx reports whether the pack directory has a multi-pack-index.
func hasMidx(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, "multi-pack-index"))
	return err == nil
}
