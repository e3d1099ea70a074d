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
// versions. Only evidence counts: a quarantined version must verify under
// the feed's own key (from the genesis, or from where it leaves the local
// feed) and diverge from every other version; any other ref under the
// namespace is ignored (QuarantineFindings reports it), so that no one who
// can only push refs can get a key reported as equivocating. With nothing
// quarantined it costs one listing of the namespace.
func Forks(st *gitstore.Store, heads map[string]gitstore.Hash) (map[string]*Fork, error) {
	out, _, err := forks(st, heads)
	return out, err
}

// QuarantineFindings reports the refs under the quarantine namespace that
// are no evidence of equivocation (KindBadQuarantine).
func QuarantineFindings(st *gitstore.Store, heads map[string]gitstore.Hash) ([]Finding, error) {
	_, fs, err := forks(st, heads)
	return fs, err
}

// KindBadQuarantine reports a ref under the quarantine namespace that is no
// evidence: badly named, not signed by the feed's key, or not diverging.
const KindBadQuarantine = "bad-quarantine"

func forks(st *gitstore.Store, heads map[string]gitstore.Hash) (map[string]*Fork, []Finding, error) {
	refs, err := st.ListRefs(QuarantinePrefix)
	if err != nil || len(refs) == 0 {
		return nil, nil, err
	}
	var findings []Finding
	noise := func(key string, h gitstore.Hash, name, format string, args ...any) {
		findings = append(findings, Finding{Kind: KindBadQuarantine, Feed: key, Commit: h.String(),
			Reason: name + " is no evidence of equivocation: " + fmt.Sprintf(format, args...) + "; ignored"})
	}
	byKey := map[string]map[gitstore.Hash]string{}
	for name, h := range refs {
		key, commit, ok := strings.Cut(strings.TrimPrefix(name, QuarantinePrefix), "/")
		if !ok || !ValidKeyID(key) || commit != h.String() {
			noise("", h, name, "not refs/covenant/quarantine/<key-id>/<commit> pointing at <commit>")
			continue
		}
		if byKey[key] == nil {
			byKey[key] = map[gitstore.Hash]string{}
		}
		byKey[key][h] = name
	}
	out := map[string]*Fork{}
	for key, set := range byKey {
		local, hasLocal := heads[key]
		var versions []gitstore.Hash
		if hasLocal {
			versions = append(versions, local)
		}
		names := make([]gitstore.Hash, 0, len(set))
		for h := range set {
			names = append(names, h)
		}
		sort.Slice(names, func(i, j int) bool { return names[i].String() < names[j].String() })
		for _, h := range names {
			if hasLocal && h == local {
				continue
			}
			if why := evidence(st, key, local, hasLocal, h); why != "" {
				noise(key, h, set[h], "%s", why)
				continue
			}
			versions = append(versions, h)
		}
		// A version another one contains is the same history.
		var kept []gitstore.Hash
		for i, v := range versions {
			inside := false
			for j, w := range versions {
				if i != j && v != w && CommonBase(st, v, w) == v {
					inside = true
				}
			}
			if !inside {
				kept = append(kept, v)
			} else if name, ok := set[v]; ok {
				noise(key, v, name, "the version is contained in another one, so nothing diverges")
			}
		}
		if len(kept) < 2 {
			for _, v := range kept {
				if name, ok := set[v]; ok && !(hasLocal && v == local) {
					noise(key, v, name, "no second history diverges from it")
				}
			}
			continue
		}
		f := &Fork{Key: key, Versions: kept}
		sort.Slice(f.Versions, func(i, j int) bool { return f.Versions[i].String() < f.Versions[j].String() })
		f.Base = f.Versions[0]
		for _, v := range f.Versions[1:] {
			if f.Base = CommonBase(st, f.Base, v); f.Base.IsZero() {
				break
			}
		}
		out[key] = f
	}
	sort.Slice(findings, func(i, j int) bool { return findings[i].Commit < findings[j].Commit })
	return out, findings, nil
}

// evidence says why version v of feed key is not a history signed by the
// key ("" if it is): every commit of v after the shared part with the
// local head (all of it when there is none) must verify as feed commits do.
func evidence(st *gitstore.Store, key string, local gitstore.Hash, hasLocal bool, v gitstore.Hash) string {
	pos := Pos{}
	if hasLocal {
		base := CommonBase(st, local, v)
		if base == v {
			return "the local feed contains it"
		}
		if !base.IsZero() {
			_, p, fs, err := Read(st, key, base, Pos{})
			if err != nil {
				return err.Error()
			}
			if len(fs) > 0 {
				return "the history it shares with the local feed does not verify: " + fs[0].Reason
			}
			pos = p
		}
	}
	_, _, fs, err := Read(st, key, v, pos)
	if err != nil {
		return err.Error()
	}
	if len(fs) > 0 {
		return fmt.Sprintf("%s at %s: %s", fs[0].Kind, shortHash(fs[0].Commit), fs[0].Reason)
	}
	return ""
}

func shortHash(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
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
