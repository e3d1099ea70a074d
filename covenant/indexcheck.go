package covenant

import (
	"context"
	"fmt"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/tasks"
)

// KindIndexMismatch names a verify --full finding: the derived index
// answered something the fold of the feeds does not say (it was edited,
// or a bug made it drift). verify rebuilds the index when it finds one.
const KindIndexMismatch = "index-mismatch"

// maxMismatchFindings bounds how many differences one verify lists; the
// last finding then counts the rest.
const maxMismatchFindings = 20

// fullFold is what verify --full folded in memory.
type fullFold struct {
	state    *tasks.MemState
	workflow *tasks.Workflow
	log      []index.LogCheck
	feed     []ledger.Finding
	heads    map[string]gitstore.Hash
}

// verifyFullAndIndex runs verify --full under the repository's own config
// and then holds the index, which every read answers from, against what
// the feeds alone fold to: each difference is a finding, and the index is
// rebuilt so that reads after this verify are right.
func (s *Service) verifyFullAndIndex(ctx context.Context, cfg *config.Config) (*VerifyReport, error) {
	var ff fullFold
	rep, err := s.verifyFull(ctx, cfg, &ff)
	if err != nil {
		return nil, err
	}
	want := &index.Folded{State: ff.state, Workflow: ff.workflow, Log: ff.log, Feed: ff.feed, Records: ff.state.Raw()}
	diff, compared, err := s.compareIndex(ctx, ff.heads, want)
	if err != nil {
		return nil, err
	}
	if !compared {
		s.logf("note: the feeds moved while verifying; the index was not compared with them")
		return rep, nil
	}
	if len(diff) == 0 {
		return rep, nil
	}
	for i, d := range diff {
		if i == maxMismatchFindings {
			rep.Findings = append(rep.Findings, ledger.Finding{Kind: KindIndexMismatch, Severity: "error",
				Reason: fmt.Sprintf("and %d more differences", len(diff)-i)})
			break
		}
		reason := d.What
		if d.Key != "" {
			reason += " " + d.Key
		}
		rep.Findings = append(rep.Findings, ledger.Finding{Kind: KindIndexMismatch, Severity: "error",
			Reason: "index " + reason + ": " + d.Reason})
	}
	s.logf("note: the index differs from the feeds in %d places; rebuilding it from the feeds", len(diff))
	if _, err := s.Rebuild(ctx); err != nil {
		return nil, fmt.Errorf("rebuild the index: %w", err)
	}
	// A rebuild folds with the same code: if it still differs, the fold
	// itself is not deterministic, which is a finding of its own.
	after, compared, err := s.compareIndex(ctx, ff.heads, want)
	if err != nil {
		return nil, err
	}
	if compared && len(after) > 0 {
		rep.Findings = append(rep.Findings, ledger.Finding{Kind: KindIndexMismatch, Severity: "error",
			Reason: fmt.Sprintf("a rebuilt index still differs from the fold of the feeds in %d places (first: %s %s: %s)", len(after), after[0].What, after[0].Key, after[0].Reason)})
	}
	return rep, nil
}

// compareIndex compares the caught-up index with want, if the index was
// folded from exactly the heads verify read (a concurrent write moves them:
// then compared is false and nothing is said).
func (s *Service) compareIndex(ctx context.Context, heads map[string]gitstore.Hash, want *index.Folded) (diff []index.Mismatch, compared bool, err error) {
	cfg, err := s.requireConfig()
	if err != nil {
		return nil, false, err
	}
	digest := s.c.source(ctx, cfg).Config
	err = s.read(ctx, func(ix *index.Index) error {
		m, err := ix.Meta()
		if err != nil {
			return err
		}
		if !m.Fresh(hexHeads(heads), digest) {
			return nil
		}
		compared = true
		diff, err = ix.Compare(want)
		return err
	})
	return diff, compared, err
}
