package remote

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/ledger"
)

// Staged is what the last fetch from a remote saw there.
type Staged struct {
	Feeds      map[string]gitstore.Hash // by key id
	BadRefs    []string                 // feed refs whose name is not a key id
	NotCommits []string                 // feed refs that do not point at a commit
	Notes      gitstore.Hash            // zero when the remote has no notes
	// NotesBad: the remote's notes ref is not a commit; it is neither
	// merged nor pushed over.
	NotesBad bool
}

// fetch brings the remote's feeds and notes (and any extra refspecs) into
// the staging namespace with the git binary. The caller holds the covenant
// writer lock, so a *.lock file found in the staging namespace was left by
// a fetch that was killed; it is removed first or git would refuse the
// ref for ever.
func fetch(st *gitstore.Store, g *Git, name string, extra ...string) error {
	if err := clearStaleLocks(st, string(stageOf(name))); err != nil {
		return err
	}
	args := []string{"fetch", "--quiet", "--no-tags", "--prune", "--no-write-fetch-head", "--no-auto-maintenance",
		"--recurse-submodules=no", "--refmap=", name}
	args = append(args, stageOf(name).fetchSpecs()...)
	args = append(args, extra...)
	_, err := g.must(args...)
	return err
}

func clearStaleLocks(st *gitstore.Store, prefix string) error {
	root := filepath.Join(st.CommonDir, filepath.FromSlash(prefix))
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".lock") {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}

// readStaged lists what the staging namespace holds for a remote.
func readStaged(st *gitstore.Store, name string) (*Staged, error) {
	s := stageOf(name)
	refs, err := st.ListRefs(s.feeds())
	if err != nil {
		return nil, err
	}
	out := &Staged{Feeds: map[string]gitstore.Hash{}}
	for ref, h := range refs {
		key := strings.TrimPrefix(ref, s.feeds())
		if !ledger.ValidKeyID(key) {
			out.BadRefs = append(out.BadRefs, key)
			continue
		}
		if _, err := st.ReadCommit(h); err != nil {
			// A feed ref at a blob, tree or tag is no feed.
			out.NotCommits = append(out.NotCommits, key)
			continue
		}
		out.Feeds[key] = h
	}
	if h, ok, err := st.ReadRef(s.notes()); err != nil {
		return nil, err
	} else if ok {
		out.Notes = h
	}
	return out, nil
}
