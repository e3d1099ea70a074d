package provenance

import (
	"fmt"

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
// whose own provenance passes with a bundle whose signer was allowed to
// record every path h changes (a docs-only signer's attestation of a tree
// does not cover a commit that reaches it by changing src/), or the zero
// hash and why no candidate covered it.
func (v *Verifier) treeRule(h, tree gitstore.Hash, changes []Change) (gitstore.Hash, string, error) {
	if err := v.load(); err != nil {
		return gitstore.ZeroHash, "", err
	}
	why := ""
	for _, a := range v.trees[tree] {
		if a == h {
			continue
		}
		r, err := v.ownNote(a)
		if err != nil {
			return gitstore.ZeroHash, "", err
		}
		if r.Status != StatusOK {
			continue
		}
		for _, b := range r.Bundles {
			if b.Ignored || b.Problem != nil || b.Result != Passed || (len(v.Policy.Commands) > 0 && !contains(v.Policy.Commands, b.Command)) {
				continue
			}
			no, err := v.mayRecordAll(b, changes)
			if err != nil {
				return gitstore.ZeroHash, "", err
			}
			if no == "" {
				return a, "", nil
			}
			why = fmt.Sprintf("attested commit %s has the same tree, but %s", a.Short(), no)
		}
	}
	return gitstore.ZeroHash, why, nil
}

// mayRecordAll returns "" if the bundle's signer held provenance.record for
// every path changes names at its anchor's position and time, else why not.
func (v *Verifier) mayRecordAll(b BundleResult, changes []Change) (string, error) {
	paths := []string{""}
	if len(changes) > 0 {
		paths = ChangedPaths(changes)
	}
	for _, p := range paths {
		why, err := v.Auth.MayRecord(b.Key, p, b.at, b.seq)
		if err != nil {
			return "", err
		}
		if why != "" {
			return fmt.Sprintf("its signer %s may not record %s: %s", b.Signer, p, why), nil
		}
	}
	return "", nil
}

// blobRule reports whether every file h changed is, at the same path with
// the same blob and mode, a subject of a passing bundle on another commit
// (whose signer was allowed to record that path). A commit that deletes
// files, bumps a submodule or changes nothing is not covered.
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
					v.blobs[blobKey(ch)] = a
				}
			}
		}
	}
	via := ""
	for _, ch := range changes {
		if ch.Blob.IsZero() || ch.Gitlink() {
			return "", false, nil
		}
		a, ok := v.blobs[blobKey(ch)]
		if !ok || a == h {
			return "", false, nil
		}
		if via == "" {
			via = a.String()
		}
	}
	return via, true, nil
}

func blobKey(ch Change) string { return ch.Path + "\x00" + ch.Mode + "\x00" + ch.Blob.String() }
