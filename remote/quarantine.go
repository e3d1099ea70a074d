package remote

import (
	"fmt"
	"sort"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/ledger"
)

// divergent examines a staged version r of feed k that is not a
// fast-forward of the local head l. If every commit of r after the fork is
// a well-formed op validly signed by the feed's key, the key signed two
// histories: both versions are kept under the quarantine namespace, the
// local feed stays where it is, and the fold stops at the fork (see
// ledger.Forks). A version that fails verification was made by someone
// without the key: it is reported, left in staging for inspection, and
// changes nothing here.
func (e *Engine) divergent(in *inbound, k string, l, r gitstore.Hash) error {
	st := e.Store
	base := ledger.CommonBase(st, l, r)
	pos := ledger.Pos{}
	if !base.IsZero() {
		_, p, fs, err := ledger.Read(st, k, base, ledger.Pos{})
		if err != nil {
			return err
		}
		if len(fs) > 0 {
			return nil // the shared history is broken here already; verify reports it
		}
		pos = p
	}
	_, _, fs, err := ledger.Read(st, k, r, pos)
	if err != nil {
		return err
	}
	at := "the genesis"
	if !base.IsZero() {
		at = base.Short()
	}
	if len(fs) > 0 {
		for _, f := range fs {
			f.Reason = fmt.Sprintf("%s holds a version of the feed that diverges from the local one after %s and fails verification (%s); kept in %s, not applied",
				e.Remote, at, f.Reason, stageOf(e.Remote).feed(k))
			in.findings = append(in.findings, f)
		}
		return nil
	}
	// The remote's version first: the local head counts as a version
	// anyway, so a kill between the two leaves a complete fork.
	for _, v := range []gitstore.Hash{r, l} {
		if err := keepVersion(st, k, v); err != nil {
			return err
		}
	}
	q := Quarantine{Feed: k, Local: l.String(), Remote: r.String()}
	if !base.IsZero() {
		q.Base = base.String()
	}
	in.quarantined = append(in.quarantined, q)
	in.findings = append(in.findings, ledger.Finding{Kind: ledger.KindEquivocation, Feed: k, Commit: r.String(),
		Reason: fmt.Sprintf("%s holds a second history of the feed, validly signed by its key, forking after %s from the local head %s; both kept under %s%s/, ops after the fork ignored until an admin runs 'git covenant quarantine accept'",
			e.Remote, at, l.Short(), ledger.QuarantinePrefix, k)})
	return nil
}

// keepVersion records a feed version under quarantine (once).
func keepVersion(st *gitstore.Store, k string, v gitstore.Hash) error {
	ref := ledger.QuarantineRef(k, v)
	cur, ok, err := st.ReadRef(ref)
	if err != nil || (ok && cur == v) {
		return err
	}
	return st.UpdateRef(ref, gitstore.ZeroHash, v)
}

// Version is one history of a quarantined feed.
type Version struct {
	Commit string `json:"commit"`
	Seq    uint64 `json:"seq"`
	Local  bool   `json:"local"` // the local feed ref points here
}

// QuarantinedFeed is a key under quarantine.
type QuarantinedFeed struct {
	Feed     string    `json:"feed"`
	Name     string    `json:"name,omitempty"`
	Base     string    `json:"base,omitempty"`
	Versions []Version `json:"versions"`
}

// ListQuarantine lists the quarantined feeds, by key id.
func ListQuarantine(st *gitstore.Store) ([]QuarantinedFeed, error) {
	heads, err := st.FeedHeads()
	if err != nil {
		return nil, err
	}
	forks, err := ledger.Forks(st, heads)
	if err != nil {
		return nil, err
	}
	out := []QuarantinedFeed{}
	for k, f := range forks {
		q := QuarantinedFeed{Feed: k}
		if !f.Base.IsZero() {
			q.Base = f.Base.String()
		}
		for _, v := range f.Versions {
			q.Versions = append(q.Versions, Version{Commit: v.String(), Seq: seqAt(st, v), Local: heads[k] == v})
		}
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Feed < out[j].Feed })
	return out, nil
}

// Accepted is what accepting a version did.
type Accepted struct {
	Feed     string   `json:"feed"`
	Accepted string   `json:"accepted"`
	From     string   `json:"from,omitempty"` // the local head before
	Rejected []string `json:"rejected"`
}

// Accept resolves a quarantined feed by choosing one version. The version
// must verify from the root; the local feed ref moves to it (by
// compare-and-swap), every other version is remembered under
// refs/covenant/rejected/<key-id>/ so that sync does not quarantine it
// again, and the quarantine refs of the key are deleted. The caller holds
// the writer lock and has checked that the actor may do this.
func Accept(st *gitstore.Store, g *Git, key string, version gitstore.Hash) (*Accepted, error) {
	heads, err := st.FeedHeads()
	if err != nil {
		return nil, err
	}
	forks, err := ledger.Forks(st, heads)
	if err != nil {
		return nil, err
	}
	f := forks[key]
	if f == nil {
		return nil, fmt.Errorf("%w: feed %s is not quarantined (see 'git covenant quarantine list')", ErrNotQuarantined, key)
	}
	found := false
	for _, v := range f.Versions {
		found = found || v == version
	}
	if !found {
		return nil, fmt.Errorf("%w: %s is not a version of feed %s (see 'git covenant quarantine list')", ErrNotQuarantined, version, key)
	}
	if _, _, fs, err := ledger.Read(st, key, version, ledger.Pos{}); err != nil {
		return nil, err
	} else if len(fs) > 0 {
		return nil, fmt.Errorf("%w: version %s does not verify: %s", ErrNotQuarantined, version.Short(), fs[0].String())
	}
	out := &Accepted{Feed: key, Accepted: version.String(), Rejected: []string{}}
	local, hasLocal := heads[key]
	if hasLocal {
		out.From = local.String()
	}
	for _, v := range f.Versions {
		if v == version || ledger.CommonBase(st, v, version) == v {
			continue // the accepted version, or part of it
		}
		ref := RejectedRef(key, v)
		if _, ok, err := st.ReadRef(ref); err != nil {
			return nil, err
		} else if !ok {
			if err := st.UpdateRef(ref, gitstore.ZeroHash, v); err != nil {
				return nil, err
			}
		}
		out.Rejected = append(out.Rejected, v.String())
	}
	if local != version {
		if err := st.UpdateRef(gitstore.FeedRef(key), local, version); err != nil {
			return nil, err
		}
	}
	refs, err := st.ListRefs(ledger.QuarantinePrefix + key + "/")
	if err != nil {
		return nil, err
	}
	for name, h := range refs {
		if _, err := g.must("update-ref", "-d", name, h.String()); err != nil {
			return nil, err
		}
	}
	return out, nil
}
