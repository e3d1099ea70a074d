package covenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	Feeds    int              `json:"feeds"`
	Commits  int              `json:"commits"`
	Ops      int              `json:"ops"`
	Applied  int              `json:"applied"`
	Findings []ledger.Finding `json:"findings"`
}

// OK reports whether verification found no errors (conflicts from
// concurrent work aside).
func (rep *VerifyReport) OK() bool { return rep.Errors() == 0 }

// Errors counts the findings of severity error.
func (rep *VerifyReport) Errors() int {
	n := 0
	for _, f := range rep.Findings {
		if f.Severity != "conflict" {
			n++
		}
	}
	return n
}

// VerifyOptions choose how Verify works.
type VerifyOptions struct {
	// Full re-checks every feed from its root instead of what is new since
	// the index last caught up.
	Full bool
	// Trust, if set, is a pinned config (reviewed elsewhere) whose roots and
	// workflow replace the repository's own; it implies Full.
	Trust *config.Config
}

// Verify checks the feeds. Incrementally (the default) it catches the index
// up, which verifies every commit that is new since the index last saw its
// feed (signature, shape, canonical op, sequence, Lamport order) and folds
// each new op (authority, legality), and reports every problem recorded so
// far. With Full or Trust it does all of that from the roots, in memory.
// Both also report feeds rewritten since the last clean verify on this
// machine and code commits made under a stale lease.
func (s *Service) Verify(ctx context.Context, opts VerifyOptions) (*VerifyReport, error) {
	cfg, err := s.requireConfig()
	if err != nil {
		return nil, err
	}
	if opts.Full || opts.Trust != nil {
		if opts.Trust != nil {
			return s.verifyFull(ctx, opts.Trust, nil)
		}
		return s.verifyFullAndIndex(ctx, cfg)
	}
	var rep *VerifyReport
	err = s.read(ctx, func(ix *index.Index) error {
		m, err := ix.Meta()
		if err != nil {
			return err
		}
		fs, err := ix.Findings()
		if err != nil {
			return err
		}
		rep = &VerifyReport{Feeds: len(m.Feeds), Commits: m.Ops, Ops: m.Ops, Applied: m.Ops - m.Rejected, Findings: fs}
		heads, err := s.store().FeedHeads()
		if err != nil {
			return err
		}
		lookup := func(id string) *tasks.Task {
			t, err := ix.Task(id)
			if err != nil {
				return nil
			}
			return t
		}
		rep, err = s.finishVerify(ctx, rep, heads, lookup, false)
		return err
	})
	return rep, err
}

// verifyFull verifies every feed from its root under cfg, in memory. With
// out set it also keeps what it folded there, for the index check.
func (s *Service) verifyFull(ctx context.Context, cfg *config.Config, out *fullFold) (*VerifyReport, error) {
	r := s.store()
	heads, err := r.FeedHeads()
	if err != nil {
		return nil, err
	}
	forks, err := ledger.Forks(r, heads)
	if err != nil {
		return nil, err
	}
	folded := ledger.CapHeads(heads, forks) // an equivocating key counts up to its fork
	rep := &VerifyReport{Feeds: len(heads), Findings: []ledger.Finding{}}
	var entries []*oplog.Entry
	keys := make([]string, 0, len(heads))
	for k := range heads {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	bar := s.c.progress
	for i, k := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if bar != nil {
			bar(i, len(keys), fmt.Sprintf("verifying feeds (%d commits)", len(entries)))
		}
		h, ok := folded[k]
		if !ok {
			continue
		}
		es, _, fs, err := ledger.ReadContext(ctx, r, k, h, ledger.Pos{})
		if err != nil {
			return nil, err
		}
		entries = append(entries, es...)
		rep.Findings = append(rep.Findings, fs...)
	}
	rep.Commits = len(entries)
	oplog.Sort(entries, func(e *oplog.Entry) oplog.OrderKey { return e.Op.Key() })
	entries, causal, _ := ledger.Order(entries, map[string]*ledger.Clock{}, nil, 0)
	witnessBounds(r, cfg, entries)
	rep.Findings = append(rep.Findings, causal...)
	reg := registry(cfg)
	feedFindings := rep.Findings
	var cuts []trust.CutFor
	var st *tasks.MemState
	for pass := 0; ; pass++ {
		// As the index does: fold again when an op names a cut-off that
		// ops folded before it pass.
		st = tasks.NewMemState()
		if err := trust.SeedRoots(st, cfg.Trust.Roots); err != nil {
			return nil, err
		}
		if err := trust.SeedCuts(st, cuts); err != nil {
			return nil, err
		}
		rep.Findings = append([]ledger.Finding(nil), feedFindings...)
		rep.Ops, rep.Applied = 0, 0
		folded := map[string]uint64{}
		var overrun []trust.CutFor
		var log []index.LogCheck
		if out != nil {
			log = make([]index.LogCheck, 0, len(entries))
		}
		for i, e := range entries {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				if bar != nil {
					bar(i, len(entries), "folding ops")
				}
			}
			rep.Ops++
			err := reg.Apply(st, e)
			folded[e.Feed] = max(folded[e.Feed], e.Op.Seq)
			if out != nil {
				log = append(log, index.LogCheck{Order: e.Op.Key().String(), Commit: e.Commit})
			}
			if err != nil {
				rej, ok := oplog.AsRejection(err)
				if !ok {
					return nil, err
				}
				if out != nil {
					log[len(log)-1].Rejected = rej.Kind
				}
				rep.Findings = append(rep.Findings, ledger.Finding{Kind: rej.Kind, Feed: e.Feed, Commit: e.Commit, Op: e.Op.Type, Reason: rej.Reason})
				continue
			}
			for _, c := range trust.CutsOf(st, e) {
				if folded[c.Key] > c.Seq {
					overrun = append(overrun, c)
				}
			}
			rep.Applied++
		}
		if out != nil {
			out.log = log
		}
		more := index.AddCuts(cuts, overrun)
		if len(more) == len(cuts) || pass == index.MaxCutPasses {
			break
		}
		cuts = more
	}
	if bar != nil {
		bar(len(entries), len(entries), "")
	}
	if out != nil {
		out.state, out.feed, out.heads = st, feedFindings, folded
		out.workflow = cfg.Lifecycle()
	}
	return s.finishVerify(ctx, rep, heads, func(id string) *tasks.Task { return st.Tasks[id] }, true)
}

// finishVerify adds what both modes check: feeds rewritten since the last
// clean verify here, and code commits made under a stale lease; and, when
// all is clean, remembers the heads.
func (s *Service) finishVerify(ctx context.Context, rep *VerifyReport, heads map[string]gitstore.Hash, lookup func(string) *tasks.Task, full bool) (*VerifyReport, error) {
	r := s.store()
	memory, err := s.loadVerified()
	if err != nil {
		return nil, err
	}
	for k, old := range memory.Feeds {
		h, ok := heads[k]
		if !ok {
			rep.Findings = append(rep.Findings, ledger.Finding{Kind: ledger.KindRewritten, Feed: k, Commit: old,
				Reason: "feed was deleted; it was verified before at " + old})
			continue
		}
		oh, err := gitstore.ParseHash(old)
		if err != nil {
			continue
		}
		if anc, err := r.IsAncestor(oh, h); err != nil || !anc {
			rep.Findings = append(rep.Findings, ledger.Finding{Kind: ledger.KindRewritten, Feed: k, Commit: h.String(),
				Reason: "feed no longer contains " + old + ", the head verified before (history was rewritten or truncated)"})
		}
	}
	var checked []gitstore.Hash
	if !full {
		for _, c := range memory.Code {
			if h, err := gitstore.ParseHash(c); err == nil {
				checked = append(checked, h)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fence, codeHeads, err := s.fenceCommits(lookup, checked)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(rep.Findings, fence...)
	forks, err := ledger.Forks(r, heads)
	if err != nil {
		return nil, err
	}
	for _, f := range forks {
		rep.Findings = append(rep.Findings, f.Finding())
	}
	bad, err := ledger.BadFeedRefs(r)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(rep.Findings, bad...)
	noise, err := ledger.QuarantineFindings(r, heads)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(rep.Findings, noise...)
	for i := range rep.Findings {
		rep.Findings[i].Severity = "error"
		if ledger.IsConflictKind(rep.Findings[i].Kind) {
			rep.Findings[i].Severity = "conflict"
		}
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		a, b := rep.Findings[i], rep.Findings[j]
		if a.Feed != b.Feed {
			return a.Feed < b.Feed
		}
		if a.Commit != b.Commit {
			return a.Commit < b.Commit
		}
		return a.Kind < b.Kind
	})
	if rep.OK() {
		cur := verified{Feeds: map[string]string{}, Code: []string{}}
		for k, h := range heads {
			cur.Feeds[k] = h.String()
		}
		for _, h := range codeHeads {
			cur.Code = append(cur.Code, h.String())
		}
		if err := s.saveVerified(cur); err != nil {
			// Local memory only, for noticing rewrites later: never fatal
			// (a read-only repository or a full disk still verifies), and
			// not said twice when the log already said nothing can be
			// written.
			if !cannotWrite(err) || s.c.memNoted.CompareAndSwap(false, true) {
				s.logf("note: could not remember the verified heads (%v)", err)
			}
		}
	}
	return rep, nil
}

// verifiedPath is where the memory of the last clean verification lives;
// its directory is made only when it is saved (a read-only repository
// still verifies).
func (s *Service) verifiedPath() (string, error) {
	return filepath.Join(s.store().CommonDir, "covenant", "verified-heads.json"), nil
}

// verified is the memory of the last clean verification on this machine:
// feed heads (to catch rewrites) and the code commits whose lease trailers
// were checked (so incremental runs walk only new commits). It is local,
// never trusted across clones.
type verified struct {
	Feeds map[string]string `json:"feeds"`
	Code  []string          `json:"code"`
}

// loadVerified returns the memory of the last clean verification here.
func (s *Service) loadVerified() (*verified, error) {
	v := &verified{Feeds: map[string]string{}}
	p, err := s.verifiedPath()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, v); err != nil || v.Feeds == nil {
		return &verified{Feeds: map[string]string{}}, nil
	}
	return v, nil
}

func (s *Service) saveVerified(m verified) error {
	p, err := s.verifiedPath()
	if err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := s.store().CovenantDir(); err != nil {
		return err
	}
	// A temporary file of its own: verifications run concurrently (they
	// take no lock), and a shared name let one rename another's file away.
	tmp, err := os.CreateTemp(filepath.Dir(p), "verified-heads-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}
