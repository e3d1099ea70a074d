package agents

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/git-covenant/git-covenant/tasks"
)

// LoadTree loads the manifests of the working tree whose top is top.
func LoadTree(top string) ([]*Manifest, error) {
	return Load(filepath.Join(top, filepath.FromSlash(Dir)))
}

// CheckTree loads the manifests of the working tree at top and checks the
// states they name against the workflow: every problem of every file, as
// an *Errors, with the manifests that are valid.
func CheckTree(top string, wf *tasks.Workflow) ([]*Manifest, error) {
	ms, err := LoadTree(top)
	var all Errors
	if err != nil {
		var pe *Errors
		if !errors.As(err, &pe) {
			return nil, err
		}
		all.List = append(all.List, pe.List...)
	}
	read := func(file string) []byte {
		b, _ := os.ReadFile(filepath.Join(top, filepath.FromSlash(file)))
		return b
	}
	if err := CheckStates(ms, wf, read); err != nil {
		var pe *Errors
		if errors.As(err, &pe) {
			all.List = append(all.List, pe.List...)
			bad := map[string]bool{}
			for _, p := range pe.List {
				bad[p.File] = true
			}
			var ok []*Manifest
			for _, m := range ms {
				if !bad[m.Path] {
					ok = append(ok, m)
				}
			}
			ms = ok
		}
	}
	if ms == nil {
		ms = []*Manifest{}
	}
	if len(all.List) > 0 {
		all.sort()
		return ms, &all
	}
	return ms, nil
}

// WriteInit writes a template's files (Init) into the working tree at
// top. An existing file is ErrExists unless force; nothing is written
// then. Each file is written whole (a temporary file renamed into place).
func WriteInit(top, name, template string, force bool) ([]File, error) {
	files, err := Init(name, template)
	if err != nil {
		return nil, err
	}
	if !force {
		for _, f := range files {
			if _, err := os.Lstat(filepath.Join(top, filepath.FromSlash(f.Path))); err == nil {
				return nil, fmt.Errorf("%w: %s (pass --force to replace it)", ErrExists, f.Path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
	}
	for _, f := range files {
		p := filepath.Join(top, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		tmp, err := os.CreateTemp(filepath.Dir(p), ".new-*")
		if err != nil {
			return nil, err
		}
		_, werr := tmp.Write(f.Content)
		cerr := tmp.Close()
		if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), os.FileMode(f.Mode))); err != nil {
			os.Remove(tmp.Name())
			return nil, err
		}
		if err := os.Rename(tmp.Name(), p); err != nil {
			os.Remove(tmp.Name())
			return nil, err
		}
	}
	return files, nil
}
