package provenance

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"

	"github.com/git-covenant/git-covenant/gitstore"
)

// Change is one path a commit changed against its first parent: a file's
// content or mode, a submodule (gitlink) bump, or a deletion. Blob is the
// new object (a blob, or the submodule commit for a gitlink), zero when the
// path was deleted; Mode is the new mode, "" when deleted.
type Change struct {
	Path string
	Blob gitstore.Hash
	Mode string
}

// Gitlink reports whether the change is a submodule commit.
func (c Change) Gitlink() bool { return c.Mode == gitlinkMode }

const gitlinkMode = "160000"

// Changes lists the paths commit c changed against its first parent (every
// path for a root commit), sorted by path. Content, mode, gitlink and
// deletion changes all count: each is something someone may or may not
// have been allowed to record.
func Changes(st *gitstore.Store, c *gitstore.Commit) ([]Change, error) {
	parent := gitstore.ZeroHash
	if len(c.Parents) > 0 {
		pc, err := st.ReadCommit(c.Parents[0])
		if err != nil {
			return nil, err
		}
		parent = pc.Tree
	}
	var out []Change
	if err := diffTrees(st, "", parent, c.Tree, &out); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func readTree(st *gitstore.Store, h gitstore.Hash) (map[string]gitstore.TreeEntry, error) {
	m := map[string]gitstore.TreeEntry{}
	if h.IsZero() {
		return m, nil
	}
	es, err := st.ReadTree(h)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		m[e.Name] = e
	}
	return m, nil
}

func diffTrees(st *gitstore.Store, prefix string, a, b gitstore.Hash, out *[]Change) error {
	if a == b {
		return nil
	}
	am, err := readTree(st, a)
	if err != nil {
		return err
	}
	bm, err := readTree(st, b)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for n := range am {
		names[n] = true
	}
	for n := range bm {
		names[n] = true
	}
	for n := range names {
		ea, inA := am[n]
		eb, inB := bm[n]
		p := prefix + n
		sub := func(e gitstore.TreeEntry, ok bool) gitstore.Hash {
			if ok && e.IsTree() {
				return e.Hash
			}
			return gitstore.ZeroHash
		}
		if err := diffTrees(st, p+"/", sub(ea, inA), sub(eb, inB), out); err != nil {
			return err
		}
		leaf := func(e gitstore.TreeEntry, ok bool) (gitstore.Hash, string) {
			if ok && !e.IsTree() {
				return e.Hash, e.Mode
			}
			return gitstore.ZeroHash, ""
		}
		fa, ma := leaf(ea, inA)
		fb, mb := leaf(eb, inB)
		if fa != fb || ma != mb {
			*out = append(*out, Change{Path: p, Blob: fb, Mode: mb})
		}
	}
	return nil
}

// BlobSHA256 returns the hex SHA-256 of a blob's content.
func BlobSHA256(st *gitstore.Store, h gitstore.Hash) (string, error) {
	b, err := st.ReadTyped(h, gitstore.BlobObject)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
