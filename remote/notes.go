package remote

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
)

// Notes merge outcomes.
const (
	NotesFastForward = "fast-forward"
	NotesMerged      = "merged"
)

// mergeNotes brings the remote's provenance notes (staged) into the local
// notes ref by union: a fast-forward when one side contains the other,
// otherwise a merge commit whose tree holds every note of both sides, and
// for an object annotated on both sides the sorted, de-duplicated lines of
// both notes (git's cat_sort_uniq strategy). The ref moves by
// compare-and-swap. It returns what it did, "" for nothing.
func mergeNotes(st *gitstore.Store, remote string, staged gitstore.Hash, now time.Time) (string, error) {
	if staged.IsZero() {
		return "", nil
	}
	local, ok, err := st.ReadRef(NotesRef)
	if err != nil {
		return "", err
	}
	if !ok {
		return NotesFastForward, st.UpdateRef(NotesRef, gitstore.ZeroHash, staged)
	}
	if local == staged {
		return "", nil
	}
	if anc, err := reachable(st, staged, local); err != nil || anc {
		return "", err
	}
	if anc, err := reachable(st, local, staged); err != nil {
		return "", err
	} else if anc {
		return NotesFastForward, st.UpdateRef(NotesRef, local, staged)
	}
	lc, err := st.ReadCommit(local)
	if err != nil {
		return "", err
	}
	rc, err := st.ReadCommit(staged)
	if err != nil {
		return "", err
	}
	ln, err := flattenTree(st, lc.Tree, "")
	if err != nil {
		return "", err
	}
	rn, err := flattenTree(st, rc.Tree, "")
	if err != nil {
		return "", err
	}
	for path, h := range rn {
		mine, ok := ln[path]
		switch {
		case !ok:
			ln[path] = h
		case mine != h:
			if ln[path], err = catSortUniq(st, mine, h); err != nil {
				return "", err
			}
		}
	}
	tree, err := writeTree(st, ln)
	if err != nil {
		return "", err
	}
	who := gitstore.Person{Name: "git-covenant", Email: "sync@covenant.invalid", When: now.UTC().Truncate(time.Second)}
	c := &gitstore.Commit{Tree: tree, Parents: []gitstore.Hash{local, staged}, Author: who, Committer: who,
		Message: fmt.Sprintf("Notes merged by 'git covenant sync' from %s\n", remote)}
	merged, err := st.WriteCommit(c.EncodeUnsigned())
	if err != nil {
		return "", err
	}
	return NotesMerged, st.UpdateRef(NotesRef, local, merged)
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

var fanoutRE = regexp.MustCompile(`^[0-9a-f]{2}$`)

// flattenTree lists a notes tree's blobs by path. Notes are stored under
// their annotated object's name, possibly split into fan-out directories
// ("ab/cdef…"); those paths are joined back into the 40-digit name so that
// the two sides compare whatever fan-out each used. Other files keep their
// path.
func flattenTree(st *gitstore.Store, tree gitstore.Hash, prefix string) (map[string]gitstore.Hash, error) {
	entries, err := st.ReadTree(tree)
	if err != nil {
		return nil, err
	}
	out := map[string]gitstore.Hash{}
	for _, e := range entries {
		if e.IsTree() {
			next := prefix + e.Name + "/"
			if fanoutRE.MatchString(e.Name) && isHexPath(prefix) {
				next = prefix + e.Name
			}
			sub, err := flattenTree(st, e.Hash, next)
			if err != nil {
				return nil, err
			}
			for k, v := range sub {
				out[k] = v
			}
			continue
		}
		out[prefix+e.Name] = e.Hash
	}
	return out, nil
}

func isHexPath(p string) bool {
	for _, r := range p {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return len(p) < 40
}

// writeTree stores files by path as nested trees. Notes go at the top
// level, named by their object; git reads notes trees with or without
// fan-out.
func writeTree(st *gitstore.Store, files map[string]gitstore.Hash) (gitstore.Hash, error) {
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
		h, err := writeTree(st, sub)
		if err != nil {
			return gitstore.ZeroHash, err
		}
		here = append(here, gitstore.TreeEntry{Name: dir, Mode: "40000", Hash: h})
	}
	return st.WriteObject(gitstore.TreeObject, gitstore.EncodeTree(here))
}

// catSortUniq joins two notes on one object as git's cat_sort_uniq does:
// the non-empty lines of both, sorted, without duplicates.
func catSortUniq(st *gitstore.Store, a, b gitstore.Hash) (gitstore.Hash, error) {
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
	return st.WriteObject(gitstore.BlobObject, []byte(sb.String()))
}
