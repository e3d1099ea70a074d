package remote

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/internal/lazyre"
)

// Notes merge outcomes.
const (
	NotesFastForward = "fast-forward"
	NotesMerged      = "merged"
)

// notesMerge is what mergeNotes did.
type notesMerge struct {
	did     string   // NotesFastForward, NotesMerged or ""
	kept    int      // local notes or lines the remote's side lacked (never adopted deletions)
	ignored []string // what of the remote's side was not taken, and why
	bad     bool     // the staged ref is not a commit
}

// mergeNotes brings the remote's provenance notes (staged) into the local
// notes ref by union, so that nothing a pusher does can take evidence
// away: for every annotated object the sorted, de-duplicated lines of both
// sides (git's cat_sort_uniq strategy). A remote notes commit that drops
// or rewrites a note is not adopted; its lines are added, the local ones
// stay. Only a fast-forward whose tree already is the union moves the ref
// to the remote's commit; otherwise a merge commit with both parents does
// (so pushing it back is a fast-forward). The staged ref must be a commit
// and only regular files named by an object id count as notes; anything
// else is left out and reported. Whether a line is evidence is decided at
// verification (a line that does not verify under a known key is ignored
// there), not here. The ref moves by compare-and-swap.
func mergeNotes(st *gitstore.Store, remote string, staged gitstore.Hash, now time.Time) (*notesMerge, error) {
	out, mv, err := planNotesMerge(st, remote, staged, now)
	if err != nil || mv == nil {
		return out, err
	}
	if err := st.UpdateRef(NotesRef, mv.old, mv.new); err != nil {
		st.Release(mv.new)
		return nil, err
	}
	return out, nil
}

// notesMove is the move of the local notes ref that a merge decided.
type notesMove struct{ old, new gitstore.Hash }

// planNotesMerge decides what mergeNotes does and builds the merge commit,
// if one is needed: its new objects (a merged note, trees, the commit) go
// into one pack kept from git's maintenance until the ref names the
// commit (gitstore.Store.WriteKept), so a `git gc --prune=now` running
// beside the sync cannot delete them first. The move is nil when the ref
// stays.
func planNotesMerge(st *gitstore.Store, remote string, staged gitstore.Hash, now time.Time) (*notesMerge, *notesMove, error) {
	out := &notesMerge{}
	if staged.IsZero() {
		return out, nil, nil
	}
	rc, err := st.ReadCommit(staged)
	if err != nil {
		out.ignored = append(out.ignored, fmt.Sprintf("%s of %s is not a commit (%v); not merged", NotesRef, remote, err))
		out.bad = true
		return out, nil, nil
	}
	local, ok, err := st.ReadRef(NotesRef)
	if err != nil {
		return nil, nil, err
	}
	if local == staged {
		return out, nil, nil
	}
	rn, bad, err := flattenNotes(st, rc.Tree)
	if err != nil {
		return nil, nil, err
	}
	for _, b := range bad {
		out.ignored = append(out.ignored, fmt.Sprintf("%s of %s: %s", NotesRef, remote, b))
	}
	var parents []gitstore.Hash
	union := map[string]gitstore.Hash{}
	ff := true
	if ok {
		if anc, err := reachable(st, staged, local); err != nil || anc {
			return out, nil, err // local already contains the remote's history
		}
		lc, err := st.ReadCommit(local)
		if err != nil {
			return nil, nil, err
		}
		ln, _, err := flattenNotes(st, lc.Tree)
		if err != nil {
			return nil, nil, err
		}
		for k, h := range ln {
			union[k] = h
		}
		parents = append(parents, local)
		if ff, err = reachable(st, local, staged); err != nil {
			return nil, nil, err
		}
	}
	var objs gitstore.Objects
	for path, h := range rn {
		mine, ok := union[path]
		switch {
		case !ok:
			union[path] = h
		case mine != h:
			if union[path], err = catSortUniq(st, &objs, mine, h); err != nil {
				return nil, nil, err
			}
		}
	}
	for path, h := range union {
		if rn[path] != h {
			out.kept++
		}
	}
	if ff && out.kept == 0 && len(bad) == 0 {
		out.did = NotesFastForward
		return out, &notesMove{local, staged}, nil
	}
	tree := writeTree(&objs, union)
	// Even when the union is the local tree, merge: pushing it back is
	// then a fast-forward over the remote's commit.
	parents = append(parents, staged)
	who := gitstore.Person{Name: "git-covenant", Email: "sync@covenant.invalid", When: now.UTC().Truncate(time.Second)}
	c := &gitstore.Commit{Tree: tree, Parents: parents, Author: who, Committer: who,
		Message: fmt.Sprintf("Notes merged by 'git covenant sync' from %s\n", remote)}
	merged := objs.Add(gitstore.CommitObject, c.EncodeUnsigned())
	if err := st.WriteKept(&objs, merged); err != nil {
		return nil, nil, err
	}
	out.did = NotesMerged
	return out, &notesMove{local, merged}, nil
}

// reachable reports whether anc is reachable from h along any parents.
func reachable(st *gitstore.Store, anc, h gitstore.Hash) (bool, error) {
	seen := map[gitstore.Hash]bool{h: true}
	queue := []gitstore.Hash{h}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == anc {
			return true, nil
		}
		c, err := st.ReadCommit(cur)
		if err != nil {
			return false, err
		}
		for _, p := range c.Parents {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false, nil
}

var fanoutRE = &lazyre.Regexp{Expr: `^[0-9a-f]{2}$`}

// flattenNotes lists a notes tree's notes by annotated object: regular
// files whose path, with git's fan-out directories ("ab/cdef…") joined
// back, is a 40-digit object name, so that the two sides compare whatever
// fan-out each used. Anything else (other files, symlinks, gitlinks,
// entries that are not blobs) is no note: it is left out and described in
// bad.
func flattenNotes(st *gitstore.Store, tree gitstore.Hash) (map[string]gitstore.Hash, []string, error) {
	out := map[string]gitstore.Hash{}
	var bad []string
	var walk func(tree gitstore.Hash, prefix string) error
	walk = func(tree gitstore.Hash, prefix string) error {
		entries, err := st.ReadTree(tree)
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := prefix + e.Name
			switch {
			case e.IsTree() && fanoutRE.MatchString(e.Name) && len(name) < 40:
				if err := walk(e.Hash, name); err != nil {
					return err
				}
			case e.IsTree() || (e.Mode != "100644" && e.Mode != "100755"):
				bad = append(bad, fmt.Sprintf("%s (mode %s) is not a note; left out", name, e.Mode))
			case !hex40RE.MatchString(name):
				bad = append(bad, fmt.Sprintf("%s does not name an object; left out", name))
			default:
				if _, err := st.ReadTyped(e.Hash, gitstore.BlobObject); err != nil {
					bad = append(bad, fmt.Sprintf("note on %s is not a readable blob; left out", name))
					continue
				}
				out[name] = e.Hash
			}
		}
		return nil
	}
	if err := walk(tree, ""); err != nil {
		return nil, nil, err
	}
	sort.Strings(bad)
	return out, bad, nil
}

var hex40RE = &lazyre.Regexp{Expr: `^[0-9a-f]{40}$`}

// writeTree adds files by path as nested trees to objs and returns the
// top one. Notes go at the top level, named by their object; git reads
// notes trees with or without fan-out.
func writeTree(objs *gitstore.Objects, files map[string]gitstore.Hash) gitstore.Hash {
	here := []gitstore.TreeEntry{}
	subdirs := map[string]map[string]gitstore.Hash{}
	for path, h := range files {
		dir, rest, nested := strings.Cut(path, "/")
		if !nested {
			here = append(here, gitstore.TreeEntry{Name: path, Mode: "100644", Hash: h})
			continue
		}
		if subdirs[dir] == nil {
			subdirs[dir] = map[string]gitstore.Hash{}
		}
		subdirs[dir][rest] = h
	}
	for dir, sub := range subdirs {
		here = append(here, gitstore.TreeEntry{Name: dir, Mode: "40000", Hash: writeTree(objs, sub)})
	}
	return objs.Add(gitstore.TreeObject, gitstore.EncodeTree(here))
}

// catSortUniq joins two notes on one object as git's cat_sort_uniq does:
// the non-empty lines of both, sorted, without duplicates, added to objs.
func catSortUniq(st *gitstore.Store, objs *gitstore.Objects, a, b gitstore.Hash) (gitstore.Hash, error) {
	set := map[string]bool{}
	for _, h := range []gitstore.Hash{a, b} {
		content, err := st.ReadTyped(h, gitstore.BlobObject)
		if err != nil {
			return gitstore.ZeroHash, err
		}
		for _, line := range strings.Split(string(content), "\n") {
			if line != "" {
				set[line] = true
			}
		}
	}
	lines := make([]string, 0, len(set))
	for l := range set {
		lines = append(lines, l)
	}
	sort.Strings(lines)
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString(l + "\n")
	}
	return objs.Add(gitstore.BlobObject, []byte(sb.String())), nil
}
