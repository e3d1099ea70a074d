package index

import (
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/ledger"
)

// FoldHeads returns the feed heads the fold uses: every feed ref, except
// that a feed whose key equivocated (see ledger.Forks) is cut back to the
// commit where its versions fork.
func FoldHeads(st *gitstore.Store) (map[string]gitstore.Hash, error) {
	heads, err := st.FeedHeads()
	if err != nil {
		return nil, err
	}
	forks, err := ledger.Forks(st, heads)
	if err != nil {
		return nil, err
	}
	return ledger.CapHeads(heads, forks), nil
}

// heads returns src.Heads when set (a sync folding feeds before it moves
// their refs), else the repository's fold heads.
func (src Source) heads() (map[string]gitstore.Hash, error) {
	if src.Heads != nil {
		return src.Heads, nil
	}
	return FoldHeads(src.Store)
}
