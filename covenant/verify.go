package covenant

import (
	"encoding/json"
	"fmt"

	"errors"
	"github.com/git-covenant/git-covenant/config"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
)

// Report is the outcome of Verify.
type Report struct {
	Feeds    int              `json:"feeds"`
	Commits  int              `json:"commits"`
	Ops      int              `json:"ops"`
	Applied  int              `json:"applied"`
	Findings []ledger.Finding `json:"findings"`
}

// OK reports whether verification found no errors (conflicts from
// concurrent work aside).
func (rep *Report) OK() bool { return rep.Errors() == 0 }

// Errors counts the findings of severity error.
func (rep *Report) Errors() int {
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
func (r *Repo) Verify(opts VerifyOptions) (*Report, error) {
	if err := r.RequireConfig(); err != nil {
		return nil, err
	}
	if opts.Full || opts.Trust != nil {
		cfg := r.Config
		if opts.Trust != nil {
			cfg = opts.Trust
		}
		return r.verifyFull(cfg)
	}
	ix, done, err := r.Read()
	if err != nil {
		return nil, err
	}
	defer done()
	m, err := ix.Meta()
	if err != nil {
		return nil, err
	}
	fs, err := ix.Findings()
	if err != nil {
		return nil, err
	}
	rep := &Report{Feeds: len(m.Feeds), Commits: m.Ops, Ops: m.Ops, Applied: m.Ops - m.Rejected, Findings: fs}
	heads, err := r.Store.FeedHeads()
	if err != nil {
		return nil, err
	}
	lookup := func(id string) *tasks.Task {
		t, err := ix.Task(id)
		if err != nil {
			return nil
		}
		return t
	}
	return r.finishVerify(rep, heads, lookup, false)
}

// verifyFull verifies every feed from its root under cfg, in memory.
func (r *Repo) verifyFull(cfg *config.Config) (*Report, error) {
	heads, err := r.Store.FeedHeads()
	if err != nil {
		return nil, err
	}
	forks, err := ledger.Forks(r.Store, heads)
	if err != nil {
		return nil, err
	}
	folded := ledger.CapHeads(heads, forks) // an equivocating key counts up to its fork
	rep := &Report{Feeds: len(heads), Findings: []ledger.Finding{}}
	var entries []*oplog.Entry
	keys := make([]string, 0, len(heads))
	for k := range heads {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if r.Bar != nil {
			r.Bar(i, len(keys), fmt.Sprintf("verifying feeds (%d commits)", len(entries)))
		}
		h, ok := folded[k]
		if !ok {
			continue
		}
		es, _, fs, err := ledger.Read(r.Store, k, h, ledger.Pos{})
		if err != nil {
			return nil, err
		}
		entries = append(entries, es...)
		rep.Findings = append(rep.Findings, fs...)
	}
	rep.Commits = len(entries)
	oplog.Sort(entries, func(e *oplog.Entry) oplog.OrderKey { return e.Op.Key() })
	st := tasks.NewMemState()
	if err := trust.SeedRoots(st, cfg.Trust.Roots); err != nil {
		return nil, err
	}
	reg := registry(cfg.Lifecycle())
	for i, e := range entries {
		if r.Bar != nil && i%4096 == 0 {
			r.Bar(i, len(entries), "folding ops")
		}
		rep.Ops++
		if err := reg.Apply(st, e); err != nil {
			rej, ok := oplog.AsRejection(err)
			if !ok {
				return nil, err
			}
			rep.Findings = append(rep.Findings, ledger.Finding{Kind: rej.Kind, Feed: e.Feed, Commit: e.Commit, Op: e.Op.Type, Reason: rej.Reason})
			continue
		}
		rep.Applied++
	}
	if r.Bar != nil {
		r.Bar(len(entries), len(entries), "")
	}
	return r.finishVerify(rep, heads, func(id string) *tasks.Task { return st.Tasks[id] }, true)
}

// finishVerify adds what both modes check: feeds rewritten since the last
// clean verify here, and code commits made under a stale lease; and, when
// all is clean, remembers the heads.
func (r *Repo) finishVerify(rep *Report, heads map[string]gitstore.Hash, lookup func(string) *tasks.Task, full bool) (*Report, error) {
	memory, err := r.loadVerified()
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
		if anc, err := r.Store.IsAncestor(oh, h); err != nil || !anc {
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
	fence, codeHeads, err := r.fenceCommits(lookup, checked)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(rep.Findings, fence...)
	forks, err := ledger.Forks(r.Store, heads)
	if err != nil {
		return nil, err
	}
	for _, f := range forks {
		rep.Findings = append(rep.Findings, f.Finding())
	}
	bad, err := ledger.BadFeedRefs(r.Store)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(rep.Findings, bad...)
	for i := range rep.Findings {
		rep.Findings[i].Severity = "error"
		if ledger.ConflictKinds[rep.Findings[i].Kind] {
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
		if err := r.saveVerified(cur); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func (r *Repo) verifiedPath() (string, error) {
	d, err := r.dir()
	return filepath.Join(d, "verified-heads.json"), err
}

// loadVerified returns the feed heads of the last clean verification on
// this machine. It is local memory, never trusted across clones.
// verified is the memory of the last clean verification on this machine:
// feed heads (to catch rewrites) and the code commits whose lease trailers
// were checked (so incremental runs walk only new commits). It is local,
// never trusted across clones.
type verified struct {
	Feeds map[string]string `json:"feeds"`
	Code  []string          `json:"code"`
}

func (r *Repo) loadVerified() (*verified, error) {
	v := &verified{Feeds: map[string]string{}}
	p, err := r.verifiedPath()
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

func (r *Repo) saveVerified(m verified) error {
	p, err := r.verifiedPath()
	if err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
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
