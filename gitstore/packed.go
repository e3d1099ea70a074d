package gitstore

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// packedRef is one line of packed-refs: a ref and its value, or why the
// line does not parse.
type packedRef struct {
	name string
	hash Hash
	bad  string
}

// packedCache keeps the parsed packed-refs between calls, as git does,
// while the file's identity (device, inode, size, times) is unchanged.
// git replaces packed-refs by renaming a new file over it, so a change
// gives a new inode. A file changed less than packedSettle ago is parsed
// again on every call, so that two changes within one tick of the file
// system clock are never mistaken for none.
type packedCache struct {
	mu    sync.Mutex
	stamp [6]int64
	ok    bool
	refs  []packedRef // sorted by name
}

const packedSettle = time.Second

// packedRefs parses packed-refs, keeping the refs that start with prefix.
// A line that does not parse is listed in bad, by ref name when it has one.
func (s *Store) packedRefs(prefix string) (map[string]Hash, []BadRef, error) {
	refs, err := s.packed.load(filepath.Join(s.CommonDir, "packed-refs"))
	if err != nil {
		return nil, nil, err
	}
	out := map[string]Hash{}
	var bad []BadRef
	for i := sort.Search(len(refs), func(i int) bool { return refs[i].name >= prefix }); i < len(refs) && strings.HasPrefix(refs[i].name, prefix); i++ {
		if r := refs[i]; r.bad != "" {
			bad = append(bad, BadRef{Name: r.name, Reason: r.bad})
		} else {
			out[r.name] = r.hash
		}
	}
	return out, bad, nil
}

func (c *packedCache) load(path string) ([]packedRef, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			c.ok, c.refs = false, nil
			return nil, nil
		}
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if c.ok && c.stamp == stampOf(&st) {
		return c.refs, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		c.ok, c.refs = false, nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var fst syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &fst); err != nil {
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	refs, err := parsePacked(f)
	if err != nil {
		return nil, err
	}
	changed := time.Unix(fst.Ctim.Sec, fst.Ctim.Nsec)
	c.ok = time.Since(changed) > packedSettle
	c.stamp, c.refs = stampOf(&fst), refs
	return refs, nil
}

func stampOf(st *syscall.Stat_t) [6]int64 {
	return [6]int64{int64(st.Dev), int64(st.Ino), st.Size, st.Mtim.Sec*1e9 + st.Mtim.Nsec, st.Ctim.Sec*1e9 + st.Ctim.Nsec, int64(st.Nlink)}
}

func parsePacked(f *os.File) ([]packedRef, error) {
	var refs []packedRef
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' || line[0] == '^' {
			continue
		}
		hex, name, _ := strings.Cut(string(line), " ")
		h, err := ParseHash(hex)
		if err != nil {
			refs = append(refs, packedRef{name: name, bad: "packed-refs line does not name an object"})
			continue
		}
		refs = append(refs, packedRef{name: name, hash: h})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].name < refs[j].name })
	return refs, nil
}
