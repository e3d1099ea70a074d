package remote

import (
	"errors"
	"fmt"
	"sort"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
)

// FeedUpdate is a local feed that sync fast-forwarded or created.
type FeedUpdate struct {
	Feed string `json:"feed"`
	Name string `json:"name,omitempty"`
	From string `json:"from,omitempty"` // absent for a feed new here
	To   string `json:"to"`
	Ops  int    `json:"ops"`
}

// Quarantine is a feed whose key signed two histories.
type Quarantine struct {
	Feed   string `json:"feed"`
	Name   string `json:"name,omitempty"`
	Local  string `json:"local"`
	Remote string `json:"remote"`
	Base   string `json:"base,omitempty"` // last shared commit; absent if none
}

// inbound is what applying a staged remote did.
type inbound struct {
	received    []FeedUpdate
	quarantined []Quarantine
	findings    []ledger.Finding
	held        []Held
	skip        map[string]bool // feeds not to push: quarantined, rejected or refused
}

// feedClass says how a staged feed relates to the local one.
type feedClass int

const (
	classSame     feedClass = iota // nothing to do
	classNew                       // no local feed: verify and create
	classAhead                     // the remote is ahead: verify and fast-forward
	classBehind                    // the remote is behind: push
	classDiverged                  // two histories
)

func classify(st *gitstore.Store, local gitstore.Hash, hasLocal bool, staged gitstore.Hash) (feedClass, gitstore.Hash) {
	switch {
	case !hasLocal:
		return classNew, gitstore.ZeroHash
	case local == staged:
		return classSame, local
	}
	base := ledger.CommonBase(st, local, staged)
	switch base {
	case local:
		return classAhead, base
	case staged:
		return classBehind, base
	}
	return classDiverged, base
}

// errRetry rolls a fold transaction back so it can run again with fewer
// candidate feeds.
var errRetry = errors.New("retry the fold without refused feeds")

// applyStaged verifies what the staging namespace of a remote holds and
// fast-forwards local feeds to it. It runs under the covenant writer lock.
// Nothing local moves before verification: feed-level checks and the fold
// run on the candidate heads inside an index transaction, refs move by
// compare-and-swap only when every candidate passed, and the transaction
// commits after the refs moved (a kill in between leaves refs the index
// catches up with on its next read).
func (e *Engine) applyStaged(ix *index.Index, staged *Staged) (*inbound, error) {
	st := e.Store
	in := &inbound{skip: map[string]bool{}}
	for _, name := range staged.BadRefs {
		in.findings = append(in.findings, ledger.Finding{Kind: ledger.KindBadRef, Feed: name,
			Reason: fmt.Sprintf("%s has refs/covenant/feeds/%s, which is not a key id; not applied", e.Remote, name)})
	}
	for _, name := range staged.NotCommits {
		in.findings = append(in.findings, ledger.Finding{Kind: ledger.KindBadRef, Feed: name,
			Reason: fmt.Sprintf("%s has refs/covenant/feeds/%s pointing at something that is not a commit; not applied", e.Remote, name)})
	}
	heads, err := st.FeedHeads()
	if err != nil {
		return nil, err
	}
	forks, err := ledger.Forks(st, heads)
	if err != nil {
		return nil, err
	}
	rejRefs, err := st.ListRefs(RejectedPrefix)
	if err != nil {
		return nil, err
	}
	rejected := keyed(rejRefs, RejectedPrefix)
	keys := make([]string, 0, len(staged.Feeds))
	for k := range staged.Feeds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	candidates := map[string]gitstore.Hash{}
	isNew := map[string]bool{}
	for _, k := range keys {
		r := staged.Feeds[k]
		l, hasL := heads[k]
		if f := forks[k]; f != nil {
			in.skip[k] = true
			if known(st, r, f.Versions) || onBranch(st, r, rejected[k]) {
				continue
			}
			if err := e.divergent(in, k, l, r); err != nil {
				return nil, err
			}
			continue
		}
		class, _ := classify(st, l, hasL, r)
		switch class {
		case classNew, classAhead:
			to, held, err := holdBack(st, l, r, e.Now().Add(MaxSkew))
			if err != nil {
				return nil, err
			}
			if held != nil {
				held.Feed = k
				in.held = append(in.held, *held)
			}
			if to.IsZero() || (hasL && to == l) {
				continue
			}
			candidates[k], isNew[k] = to, class == classNew
		case classDiverged:
			in.skip[k] = true
			if onBranch(st, r, rejected[k]) {
				continue
			}
			if err := e.divergent(in, k, l, r); err != nil {
				return nil, err
			}
		}
	}
	if len(candidates) == 0 {
		return in, nil
	}
	// The quarantine refs made above changed what the fold may use.
	base, err := index.FoldHeads(st)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		fold := make(map[string]gitstore.Hash, len(base)+len(candidates))
		for k, h := range base {
			fold[k] = h
		}
		for k, h := range candidates {
			fold[k] = h
		}
		src := e.Source
		src.Heads = fold
		var refused []ledger.Finding
		var moved []FeedUpdate
		_, err := ix.Update(src, false, func(tx *index.Tx) error {
			for _, k := range sortedKeys(candidates) {
				pos := tx.Meta.Feeds[k]
				if pos.Broken != nil {
					f := *pos.Broken
					f.Reason = fmt.Sprintf("from %s: %s; not applied", e.Remote, f.Reason)
					refused = append(refused, f)
					// Keep the verified prefix if it adds to the local feed.
					verified, perr := gitstore.ParseHash(pos.Head)
					if local, ok := heads[k]; perr == nil && (!ok || (verified != local && ledger.CommonBase(st, local, verified) == local)) {
						candidates[k] = verified
					} else {
						delete(candidates, k)
					}
					in.skip[k] = true
					continue
				}
				if isNew[k] {
					a, err := tx.Actor(k)
					if err != nil {
						return err
					}
					// A key retired since (rotated out, revoked) is still part
					// of history: its feed comes in and the fold ignores
					// what it signed after the cut-off.
					if !a.Known() {
						refused = append(refused, ledger.Finding{Kind: oplog.KindUntrustedKey, Feed: k, Commit: candidates[k].String(),
							Reason: fmt.Sprintf("from %s: the key is neither a trust root nor registered by one; feed not applied", e.Remote)})
						delete(candidates, k)
						in.skip[k] = true
					}
				}
			}
			if len(refused) > 0 {
				return errRetry
			}
			for _, k := range sortedKeys(candidates) {
				to := candidates[k]
				from, hasFrom := heads[k]
				if err := st.UpdateRef(gitstore.FeedRef(k), from, to); err != nil {
					return err
				}
				u := FeedUpdate{Feed: k, To: to.String(), Ops: int(tx.Meta.Feeds[k].Seq)}
				if hasFrom {
					u.From = from.String()
					u.Ops -= int(seqAt(st, from))
				}
				if a, err := tx.Actor(k); err == nil {
					u.Name = a.Name
				}
				moved = append(moved, u)
			}
			return nil
		})
		in.findings = append(in.findings, refused...)
		if errors.Is(err, errRetry) && attempt <= len(keys) {
			if len(candidates) == 0 {
				return in, nil
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		in.received = moved
		return in, nil
	}
}

func sortedKeys(m map[string]gitstore.Hash) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// known reports whether h is one of versions or an ancestor of one.
func known(st *gitstore.Store, h gitstore.Hash, versions []gitstore.Hash) bool {
	for _, v := range versions {
		if v == h || ledger.CommonBase(st, v, h) == h {
			return true
		}
	}
	return false
}

// onBranch reports whether h is one of versions, an ancestor of one or a
// descendant of one.
func onBranch(st *gitstore.Store, h gitstore.Hash, versions []gitstore.Hash) bool {
	for _, v := range versions {
		if b := ledger.CommonBase(st, v, h); b == h || b == v {
			return true
		}
	}
	return false
}

// seqAt returns the sequence number of a verified feed commit.
func seqAt(st *gitstore.Store, h gitstore.Hash) uint64 {
	fc, err := st.ReadFeedCommit(h)
	if err != nil {
		return 0
	}
	op, err := oplog.Decode(fc.Op)
	if err != nil {
		return 0
	}
	return op.Seq
}
