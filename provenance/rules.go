package provenance

import (
	"github.com/git-covenant/git-covenant/gitstore"
)

// load indexes every annotated commit by tree, once per Verifier.
func (v *Verifier) load() error {
	if v.loaded {
		return nil
	}
	v.trees = map[gitstore.Hash][]gitstore.Hash{}
	for h := range v.Notes {
		c, err := v.Store.ReadCommit(h)
		if err != nil {
			continue // a note on something that is not a commit here
		}
		v.trees[c.Tree] = append(v.trees[c.Tree], h)
	}
	v.loaded = true
	return nil
}

// treeRule returns an attested commit other than h with the same tree
// whose own provenance passes, or the zero hash.
func (v *Verifier) treeRule(h, tree gitstore.Hash) (gitstore.Hash, error) {
	if err := v.load(); err != nil {
		return gitstore.ZeroHash, err
	}
	for _, a := range v.trees[tree] {
		if a == h {
			continue
		}
		r, err := v.ownNote(a)
		if err != nil {
			return gitstore.ZeroHash, err
		}
		if r.Status == StatusOK {
			return a, nil
		}
	}
	return gitstore.ZeroHash, nil
}

// blobRule reports whether every file h changed is, at the same path with
// the same blob, a subject of a passing bundle on another commit. A commit
// that deletes files or changes nothing is not covered.
func (v *Verifier) blobRule(h gitstore.Hash, changes []Change) (string, bool, error) {
	if len(changes) == 0 {
		return "", false, nil
	}
	if v.blobs == nil {
		v.blobs = map[string]gitstore.Hash{}
		for a := range v.Notes {
			if _, err := v.Store.ReadCommit(a); err != nil {
				continue
			}
			r, err := v.ownNote(a)
			if err != nil {
				return "", false, err
			}
			if r.Status != StatusOK {
				continue
			}
			for _, b := range r.Bundles {
				if b.Problem != nil || b.Result != Passed {
					continue
				}
				for _, ch := range b.blobs {
					v.blobs[ch.Path+"\x00"+ch.Blob.String()] = a
				}
			}
		}
	}
	via := ""
	for _, ch := range changes {
		if ch.Blob.IsZero() {
			return "", false, nil
		}
		a, ok := v.blobs[ch.Path+"\x00"+ch.Blob.String()]
		if !ok || a == h {
			return "", false, nil
		}
		if via == "" {
			via = a.String()
		}
	}
	return via, true, nil
}
