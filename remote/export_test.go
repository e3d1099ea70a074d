package remote

import (
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
)

// PlanNotesMerge is planNotesMerge for tests: what the merge does, and the
// move of the notes ref it decided, not yet made (nil when the ref stays).
func PlanNotesMerge(st *gitstore.Store, remote string, staged gitstore.Hash, now time.Time) (string, func() error, error) {
	out, mv, err := planNotesMerge(st, remote, staged, now)
	if err != nil || mv == nil {
		return "", nil, err
	}
	return out.did, func() error { return st.UpdateRef(NotesRef, mv.old, mv.new) }, nil
}
