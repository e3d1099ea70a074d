package remote

import (
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
// writer lock. Ref locks a killed fetch left in the staging namespace are
// removed first (or git would refuse those refs for ever), but only once
// the processes recorded as their owners are gone; the record names this
// process and its git child while the fetch runs (see staging.go).
func fetch(st *gitstore.Store, g *Git, name string, extra ...string) error {
	own, err := claimStaging(st, name)
	if err != nil {
		return err
	}
	defer own.release()
	args := []string{"fetch", "--quiet", "--no-tags", "--prune", "--no-write-fetch-head", "--no-auto-maintenance",
		"--recurse-submodules=no", "--refmap=", name}
	args = append(args, stageOf(name).fetchSpecs()...)
	args = append(args, extra...)
	res, err := g.runWith([]gitstore.GitOption{gitstore.WithStarted(own.child)}, args...)
	if err != nil {
		return err
	}
	if res.code != 0 {
		return res.err(args)
	}
	return nil
}

// readStaged lists what the staging namespace holds for a remote. known
// holds commits this clone has verified already (its index's feed heads):
// a staged head among them is a commit without reading it again, which
// in a fresh process would cost go-git a scan of the whole pack index (a
// no-op sync stages every head the remote has, all of them known).
func readStaged(st *gitstore.Store, name string, known map[gitstore.Hash]bool) (*Staged, error) {
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
		if !known[h] {
			if _, err := st.ReadCommit(h); err != nil {
				// A feed ref at a blob, tree or tag is no feed.
				out.NotCommits = append(out.NotCommits, key)
				continue
			}
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
