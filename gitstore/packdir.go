package gitstore

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5"
)

// packListFS is the repository's file system as go-git's storage sees it,
// listing a pack only once its .idx is in place. Git lists packs by their
// .idx and ignores a .pack without one; go-git lists them by the .pack and
// then fails every object lookup that reaches that pack with "packfile not
// found". A writer places the .pack before the .idx (writeKept, and git's
// own index-pack), so a writer killed between the two renames, or one
// caught between them, leaves a .pack without its .idx: without this
// filter every read of the repository would fail until someone removed it.
type packListFS struct {
	billy.Filesystem
}

var packDir = filepath.Join("objects", "pack")

// ReadDir lists dir, leaving out of the pack directory each pack-*.pack
// whose pack-*.idx is not listed beside it.
func (f packListFS) ReadDir(dir string) ([]os.FileInfo, error) {
	es, err := f.Filesystem.ReadDir(dir)
	if err != nil || filepath.Clean(dir) != packDir {
		return es, err
	}
	names := make(map[string]bool, len(es))
	for _, e := range es {
		names[e.Name()] = true
	}
	out := es[:0]
	for _, e := range es {
		n := e.Name()
		if base, ok := strings.CutSuffix(n, ".pack"); ok && strings.HasPrefix(n, "pack-") && !names[base+".idx"] {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// Chmod passes go-git's mode changes of the files it writes through.
func (f packListFS) Chmod(name string, mode os.FileMode) error {
	if c, ok := f.Filesystem.(billy.Chmod); ok {
		return c.Chmod(name, mode)
	}
	return nil
}
