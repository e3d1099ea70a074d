package covenant

import (
	"github.com/git-covenant/git-covenant/attest/checkpoint"
	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
)

// witnessFunc returns the test for time witnesses under cfg (ADR 0010):
// an attest.checkpoint signed by a trust root whose body checks. It
// returns the checkpoint's head lines.
func witnessFunc(cfg *config.Config) func(*oplog.Entry) ([]string, bool) {
	roots := map[string]bool{}
	for _, r := range cfg.Trust.Roots {
		if pub, err := identity.ParsePublicKey(r.Key); err == nil {
			roots[identity.KeyID(pub)] = true
		}
	}
	return func(e *oplog.Entry) ([]string, bool) {
		if e.Op.Type != checkpoint.OpType || !roots[e.Feed] || e.Op.Task != "" {
			return nil, false
		}
		b, err := checkpoint.Parse(e.Op.Body)
		if err != nil {
			return nil, false
		}
		return b.Heads, true
	}
}

// witnessBounds sets the time witness bounds of entries, which hold every
// op of the history (verify --full).
func witnessBounds(st *gitstore.Store, cfg *config.Config, entries []*oplog.Entry) {
	is := witnessFunc(cfg)
	known := make(map[string]uint64, len(entries))
	for _, e := range entries {
		known[e.Commit] = e.Op.Seq
	}
	var ws []ledger.Witness
	for _, e := range entries {
		if heads, ok := is(e); ok {
			ws = append(ws, ledger.ResolveWitness(st, e, heads, known))
		}
	}
	ledger.Bounds(entries, ws)
}
