package ledger

import (
	"fmt"
	"sort"
	"strings"

	"github.com/git-covenant/git-covenant/gitstore"
)

// KindEquivocation reports a key that signed two histories of its feed.
const KindEquivocation = "equivocation"

// QuarantinePrefix holds the versions of feeds whose key equivocated:
// refs/covenant/quarantine/<key-id>/<commit>, one ref per version, each
// pointing at the commit it is named after.
const QuarantinePrefix = "refs/covenant/quarantine/"

// QuarantineRef names the ref keeping one version of a feed aside.
func QuarantineRef(keyID string, version gitstore.Hash) string {
	return QuarantinePrefix + keyID + "/" + version.String()
}

// Fork is a feed whose key signed more than one history.
type Fork struct {
	Key string
	// Base is the last commit every version shares; ZeroHash when the
	// versions share nothing (two genesis commits).
	Base gitstore.Hash
	// Versions are the quarantined heads and the local feed head, sorted.
	Versions []gitstore.Hash
}

// Finding reports the fork as verification does.
func (f *Fork) Finding() Finding {
	vs := make([]string, len(f.Versions))
	for i, v := range f.Versions {
		vs[i] = v.Short()
	}
	at := "the genesis"
	commit := ""
	if !f.Base.IsZero() {
		at, commit = f.Base.Short(), f.Base.String()
	}
	return Finding{Kind: KindEquivocation, Feed: f.Key, Commit: commit,
		Reason: fmt.Sprintf("the key signed %d histories that fork after %s (%s); its ops after the fork are ignored until an admin runs 'git covenant quarantine accept'",
			len(f.Versions), at, strings.Join(vs, ", "))}
}

// Forks lists the feeds under quarantine, with their fork points. heads are
// the local feed heads; a quarantined key's local head counts as one of its
// versions. With nothing quarantined it costs one listing of the namespace.
func Forks(st *gitstore.Store, heads map[string]gitstore.Hash) (map[string]*Fork, error) {
	refs, err := st.ListRefs(QuarantinePrefix)
	if err != nil || len(refs) == 0 {
		return nil, err
	}
	byKey := map[string]map[gitstore.Hash]bool{}
	for name, h := range refs {
		key, _, ok := strings.Cut(strings.TrimPrefix(name, QuarantinePrefix), "/")
		if !ok || !ValidKeyID(key) {
			continue
		}
		if byKey[key] == nil {
			byKey[key] = map[gitstore.Hash]bool{}
		}
		byKey[key][h] = true
	}
	out := map[string]*Fork{}
	for key, set := range byKey {
		if h, ok := heads[key]; ok {
			set[h] = true
		}
		if len(set) < 2 {
			continue // one history only: nothing forked
		}
		f := &Fork{Key: key}
		for h := range set {
			f.Versions = append(f.Versions, h)
		}
		sort.Slice(f.Versions, func(i, j int) bool { return f.Versions[i].String() < f.Versions[j].String() })
		f.Base = f.Versions[0]
		for _, v := range f.Versions[1:] {
			if f.Base = CommonBase(st, f.Base, v); f.Base.IsZero() {
				break
			}
		}
		out[key] = f
	}
	return out, nil
}

// CapHeads returns heads with every forked feed cut back to its fork base
// (and left out when the versions share nothing): what the fold may use.
func CapHeads(heads map[string]gitstore.Hash, forks map[string]*Fork) map[string]gitstore.Hash {
	if len(forks) == 0 {
		return heads
	}
	out := make(map[string]gitstore.Hash, len(heads))
	for k, h := range heads {
		out[k] = h
	}
	for k, f := range forks {
		if f.Base.IsZero() {
			delete(out, k)
		} else {
			out[k] = f.Base
		}
	}
	return out
}

// CommonBase returns the last commit two linear feed histories share,
// walking both back one commit at a time, alternately, so the cost is
// proportional to how far the versions are from their fork rather than to
// the length of the feed. An unreadable commit ends that walk: what cannot
// be read cannot be shared.
func CommonBase(st *gitstore.Store, a, b gitstore.Hash) gitstore.Hash {
	if a == b {
		return a
	}
	seenA, seenB := map[gitstore.Hash]bool{a: true}, map[gitstore.Hash]bool{b: true}
	for !a.IsZero() || !b.IsZero() {
		if !a.IsZero() {
			a = firstParent(st, a)
			if seenB[a] && !a.IsZero() {
				return a
			}
			seenA[a] = true
		}
		if !b.IsZero() {
			b = firstParent(st, b)
			if seenA[b] && !b.IsZero() {
				return b
			}
			seenB[b] = true
		}
	}
	return gitstore.ZeroHash
}

func firstParent(st *gitstore.Store, h gitstore.Hash) gitstore.Hash {
	c, err := st.ReadCommit(h)
	if err != nil || len(c.Parents) == 0 {
		return gitstore.ZeroHash
	}
	return c.Parents[0]
}
