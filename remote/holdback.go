package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/oplog"
)

// MaxSkew is how far past the receiving clone's clock an incoming op may be
// dated. Sync holds a later op back (with everything after it in its feed):
// it stays in staging, is reported, and is folded by a later sync once the
// clock has passed its time less MaxSkew. No signer can so make its op
// count as written later than it arrived.
const MaxSkew = 5 * time.Minute

// Held is an incoming op that sync holds back.
type Held struct {
	Feed   string `json:"feed"`
	Commit string `json:"commit"`
	Op     string `json:"op"`
	Time   string `json:"time"`
	Reason string `json:"reason"`
}

// holdBack returns how far a staged version r of a feed may be applied: the
// last of its commits after the local head l (from the root when there is
// none) before the first op dated after limit, or r itself. When an op is
// held the result may be l (or ZeroHash): nothing to apply yet. Commits it
// cannot read or decode are left for verification to report.
func holdBack(st *gitstore.Store, l gitstore.Hash, r gitstore.Hash, limit time.Time) (gitstore.Hash, *Held, error) {
	commits, err := st.WalkFeed(r, l)
	if errors.Is(err, gitstore.ErrNotAncestor) || errors.Is(err, gitstore.ErrObjectNotFound) || errors.Is(err, gitstore.ErrCorruptObject) {
		return r, nil, nil
	}
	if err != nil {
		return r, nil, err
	}
	prev := l
	for _, fc := range commits {
		// Only the time matters here, and verification decodes every op
		// strictly after this: a shallow read of three fields costs a
		// fraction of that decode, and an op it reads differently (a
		// duplicate or miscased key) is refused by verification anyway.
		// An op refused for its time alone (9999-12-31 is outside what any
		// build decodes) is still held, not a failing sync.
		var rough struct {
			Type  string `json:"type"`
			Actor string `json:"actor"`
			Time  string `json:"time"`
		}
		if json.Unmarshal(fc.Op, &rough) != nil {
			return r, nil, nil
		}
		when, perr := time.Parse(oplog.TimeFormat, rough.Time)
		if perr != nil {
			return r, nil, nil
		}
		if when.After(limit) {
			return prev, &Held{Feed: rough.Actor, Commit: fc.Hash.String(), Op: rough.Type, Time: rough.Time,
				Reason: fmt.Sprintf("dated %s, beyond this clone's clock plus %s (%s); held back with %d later commit(s) of the feed until the clock passes it",
					rough.Time, MaxSkew, oplog.FormatTime(limit), countAfter(commits, fc))}, nil
		}
		prev = fc.Hash
	}
	return r, nil, nil
}

func countAfter(commits []*gitstore.FeedCommit, fc *gitstore.FeedCommit) int {
	for i, c := range commits {
		if c == fc {
			return len(commits) - i - 1
		}
	}
	return 0
}
