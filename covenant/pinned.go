package covenant

import (
	"context"
	"fmt"
	"sort"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// ConfigAt reads .covenant/config.toml as committed at a revision (for
// example the base branch a pull request targets), for use as a pinned
// config: roots, identities and policy reviewed there, never taken from
// the commits being verified.
func (s *Service) ConfigAt(ctx context.Context, rev string) (*config.Config, error) {
	r := s.store()
	h, err := s.resolveCommit(ctx, rev)
	if err != nil {
		return nil, err
	}
	c, err := r.ReadCommit(h)
	if err != nil {
		return nil, err
	}
	blob, ok, err := r.TreeFile(c.Tree, config.Path)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s has no %s", ErrNotCovenant, rev, config.Path)
	}
	raw, err := r.ReadTyped(blob, gitstore.BlobObject)
	if err != nil {
		return nil, err
	}
	return config.Parse(raw)
}

// foldPinned folds every feed in memory under cfg's roots and workflow:
// the state a pinned config implies, independent of the index (which folds
// under the working tree's config).
func (s *Service) foldPinned(ctx context.Context, cfg *config.Config) (*tasks.MemState, error) {
	r := s.store()
	heads, err := index.FoldHeads(r)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(heads))
	for k := range heads {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var entries []*oplog.Entry
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		es, _, _, err := ledger.Read(r, k, heads[k], ledger.Pos{})
		if err != nil {
			return nil, err
		}
		entries = append(entries, es...)
	}
	oplog.Sort(entries, func(e *oplog.Entry) oplog.OrderKey { return e.Op.Key() })
	st := tasks.NewMemState()
	if err := trust.SeedRoots(st, cfg.Trust.Roots); err != nil {
		return nil, err
	}
	reg := registry(cfg)
	for _, e := range entries {
		if err := reg.Apply(st, e); err != nil {
			if _, ok := oplog.AsRejection(err); !ok {
				return nil, err
			}
		}
	}
	return st, nil
}
