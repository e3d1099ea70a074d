package gitstore

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ReadWorkFile reads a file of the work tree by its path relative to the
// top. Every symlink on the way is resolved first, and the result must be
// a regular file inside the work tree and outside the git directory: a
// handoff artifact or evidence file comes from the repository, never from
// wherever an in-repo symlink points (~/.ssh, /etc, .git/config).
func (s *Store) ReadWorkFile(rel string) ([]byte, error) {
	if s.WorkTree == "" {
		return nil, fmt.Errorf("%w: %s: a bare repository has no work tree", ErrOutsideWorkTree, rel)
	}
	top, err := filepath.EvalSymlinks(s.WorkTree)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(filepath.Join(top, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	if !within(top, real) || strings.HasPrefix(filepath.ToSlash(mustRel(top, real))+"/", ".git/") {
		return nil, fmt.Errorf("%w: %s resolves to %s", ErrOutsideWorkTree, rel, real)
	}
	for _, d := range []string{s.GitDir, s.CommonDir} {
		if d == "" {
			continue
		}
		if rd, err := filepath.EvalSymlinks(d); err == nil && within(rd, real) {
			return nil, fmt.Errorf("%w: %s resolves into the git directory", ErrOutsideWorkTree, rel)
		}
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s", ErrNotRegularFile, rel)
	}
	return io.ReadAll(f)
}

// within reports whether p is dir or below it (both cleaned, absolute).
func within(dir, p string) bool {
	r, err := filepath.Rel(dir, p)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && !filepath.IsAbs(r)
}

func mustRel(dir, p string) string {
	r, err := filepath.Rel(dir, p)
	if err != nil {
		return p
	}
	return r
}
