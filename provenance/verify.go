package provenance

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/attest"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/glob"
	"github.com/git-covenant/git-covenant/tasks"
)

// Problem kinds reported by verification.
const (
	KindMissing        = "missing-provenance" // required, no bundle and no rule matched
	KindFailed         = "failed-evidence"    // every valid bundle records a failed command
	KindBadBundle      = "bad-bundle"         // does not parse, wrong types, inconsistent
	KindBadSignature   = "bad-signature"      // DSSE signature does not verify
	KindUnknownSigner  = "unknown-signer"     // key hint names no known identity
	KindSignerMismatch = "signer-mismatch"    // statement names another actor than the key
	KindUnauthorized   = "unauthorized"       // signer lacked provenance.record
	KindSubject        = "subject-mismatch"   // digests do not match the real commit, tree or blobs
	KindBadLease       = "bad-lease"          // task, lease or transition ops not valid
	KindCommand        = "command-not-allowed"
	KindUnanchored     = "unanchored" // no accepted provenance.anchor of the signer names it
)

// Statuses of a commit in a report.
const (
	StatusOK         = "ok"
	StatusFailed     = "failed"
	StatusMissing    = "missing"
	StatusInvalid    = "invalid"
	StatusUnattested = "unattested" // no provenance, none required
)

// Authority answers what verification needs from the folded state.
type Authority interface {
	// Key returns the public key and identity name of an actor's key id;
	// ok is false for a key no feed or root introduced.
	Key(keyID string) (pub ed25519.PublicKey, name string, ok bool, err error)
	// MayRecord returns "" if keyID held provenance.record for path at t
	// and feed position seq (0: judged by time alone), else why not.
	MayRecord(keyID, path string, t time.Time, seq uint64) (string, error)
	// Anchor returns keyID's accepted provenance.anchor op naming the
	// bundle digest (BundleDigest), nil if there is none.
	Anchor(keyID, digest string) (*Anchor, error)
	// Task returns a folded task, nil if unknown.
	Task(id string) (*tasks.Task, error)
}

// Policy is the [provenance] policy that applies to a range.
type Policy struct {
	Require  bool     // commits without valid provenance fail
	Paths    []string // only commits changing these (globs; "dir/**") need it; empty: all
	Commands []string // command lines that count as validation; empty: any
	BlobRule bool     // a commit whose changed blobs are all attested passes
	// UnanchoredThrough, if set, is the commit up to which (it and its
	// ancestors) bundles recorded before anchors existed count without
	// one, judged at their recordedAt as before. A commit made later is
	// never covered, so a retired key cannot use it for new commits.
	UnanchoredThrough gitstore.Hash
}

// Problem is one reason a commit or bundle fails.
type Problem struct {
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// BundleResult describes one bundle of a commit's note.
type BundleResult struct {
	Signer  string   `json:"signer,omitempty"`
	Key     string   `json:"key,omitempty"`
	Result  string   `json:"result,omitempty"`
	Command string   `json:"command,omitempty"`
	Task    string   `json:"task,omitempty"`
	Epoch   uint64   `json:"lease_epoch,omitempty"`
	Problem *Problem `json:"problem,omitempty"`
	// Anchor is the provenance.anchor op (feed commit) that anchors the
	// bundle; Unanchored marks one counted without an anchor under the
	// policy's unanchored_through.
	Anchor     string `json:"anchor,omitempty"`
	Unanchored bool   `json:"unanchored,omitempty"`
	// Ignored marks a line that is no evidence about this commit: it does
	// not parse, does not verify under a known identity's key, is not our
	// predicate or names another commit. Anyone who can push notes can add
	// such a line, so it is reported and never fails the commit.
	Ignored bool `json:"ignored,omitempty"`

	blobs []Change
	tree  string
	at    time.Time // the anchor's time (legacy: recordedAt): when the signer's authority is judged
	seq   uint64    // the anchor's feed position; 0 for a legacy bundle
}

// CommitResult is the verdict on one commit.
type CommitResult struct {
	Commit   string         `json:"commit"`
	Summary  string         `json:"summary"`
	Status   string         `json:"status"`
	Rule     string         `json:"rule,omitempty"` // note, tree or blob
	Via      string         `json:"via,omitempty"`  // the attested commit a rule matched
	Files    []string       `json:"files"`
	Bundles  []BundleResult `json:"bundles"`
	Problems []Problem      `json:"problems"`

	ignored []Problem // of the commit's own note: lines that are no evidence
}

// OK reports whether the commit passes.
func (c *CommitResult) OK() bool { return c.Status == StatusOK || c.Status == StatusUnattested }

// RangeReport is the outcome of verifying a range.
type RangeReport struct {
	Commits []CommitResult `json:"commits"`
}

// Failures counts commits that do not pass.
func (r *RangeReport) Failures() int {
	n := 0
	for i := range r.Commits {
		if !r.Commits[i].OK() {
			n++
		}
	}
	return n
}

// Verifier checks provenance against one repository state.
type Verifier struct {
	Store  *gitstore.Store
	Notes  Notes
	Auth   Authority
	Policy Policy

	own    map[gitstore.Hash]*CommitResult // verdicts on commits' own notes
	legacy map[gitstore.Hash]bool          // UnanchoredThrough and its ancestors
	trees  map[gitstore.Hash][]gitstore.Hash
	blobs  map[string]gitstore.Hash // path + "\x00" + blob of attested files -> commit
	loaded bool
}

// Verify checks each commit and returns the report.
func (v *Verifier) Verify(commits []gitstore.Hash) (*RangeReport, error) {
	rep := &RangeReport{Commits: []CommitResult{}}
	for _, h := range commits {
		res, err := v.Commit(h)
		if err != nil {
			return nil, err
		}
		rep.Commits = append(rep.Commits, *res)
	}
	return rep, nil
}

// Commit checks one commit: its own note, else the tree rule, else (if the
// policy allows) the blob rule.
func (v *Verifier) Commit(h gitstore.Hash) (*CommitResult, error) {
	res, err := v.ownNote(h)
	if err != nil {
		return nil, err
	}
	out := *res
	if out.Status != StatusUnattested {
		return &out, nil
	}
	c, err := v.Store.ReadCommit(h)
	if err != nil {
		return nil, err
	}
	changes, err := Changes(v.Store, c)
	if err != nil {
		return nil, err
	}
	via, treeWhy, err := v.treeRule(h, c.Tree, changes)
	if err != nil {
		return nil, err
	}
	if !via.IsZero() {
		out.Status, out.Rule, out.Via = StatusOK, "tree", via.String()
		return &out, nil
	}
	if v.Policy.BlobRule {
		if via, ok, err := v.blobRule(h, changes); err != nil {
			return nil, err
		} else if ok {
			out.Status, out.Rule, out.Via = StatusOK, "blob", via
			return &out, nil
		}
	}
	if v.required(changes) {
		out.Status = StatusMissing
		why := "no provenance note, and no attested commit has the same tree"
		if len(out.ignored) > 0 {
			why = fmt.Sprintf("no valid provenance (%d note line(s) ignored: %s), and no attested commit has the same tree", len(out.ignored), out.ignored[0].Kind+": "+out.ignored[0].Reason)
		}
		if v.Policy.BlobRule {
			why += " or covers every blob it changes"
		}
		if treeWhy != "" {
			why = "no provenance note, and " + treeWhy
		}
		out.Problems = append(out.Problems, Problem{KindMissing, why})
	}
	return &out, nil
}

func (v *Verifier) required(changes []Change) bool {
	if !v.Policy.Require {
		return false
	}
	if len(v.Policy.Paths) == 0 {
		return true
	}
	for _, ch := range changes {
		if MatchPath(v.Policy.Paths, ch.Path) {
			return true
		}
	}
	return false
}

// MatchPath reports whether p matches one of the globs (package glob's
// syntax: "dir/**" is everything below dir).
func MatchPath(globs []string, p string) bool { return glob.Any(globs, p) }

// ownNote verifies the bundles attached to h itself (cached).
func (v *Verifier) ownNote(h gitstore.Hash) (*CommitResult, error) {
	if v.own == nil {
		v.own = map[gitstore.Hash]*CommitResult{}
	}
	if r, ok := v.own[h]; ok {
		return r, nil
	}
	c, err := v.Store.ReadCommit(h)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoCommit, h, err)
	}
	summary, _, _ := strings.Cut(strings.TrimSpace(c.Message), "\n")
	changes, err := Changes(v.Store, c)
	if err != nil {
		return nil, err
	}
	res := &CommitResult{Commit: h.String(), Summary: summary, Status: StatusUnattested, Files: []string{}, Bundles: []BundleResult{}, Problems: []Problem{}}
	for _, ch := range changes {
		res.Files = append(res.Files, ch.Path)
	}
	raws, err := v.Notes.Bundles(v.Store, h)
	if err != nil {
		return nil, err
	}
	passed, failed, notCounted := false, false, false
	var invalid, ignored []Problem
	for _, raw := range raws {
		br, err := v.bundle(h, c, changes, raw)
		if err != nil {
			return nil, err
		}
		res.Bundles = append(res.Bundles, *br)
		switch {
		case br.Ignored:
			ignored = append(ignored, *br.Problem)
		case br.Problem != nil:
			invalid = append(invalid, *br.Problem)
		case len(v.Policy.Commands) > 0 && !contains(v.Policy.Commands, br.Command):
			notCounted = true
		case br.Result == Passed:
			passed = true
		default:
			failed = true
		}
	}
	switch {
	case passed:
		// One clean passing bundle is enough; the others are reported.
		res.Status, res.Rule = StatusOK, "note"
		res.Problems = append(res.Problems, invalid...)
	case len(invalid) > 0:
		res.Status = StatusInvalid
		res.Problems = append(res.Problems, invalid...)
	case failed:
		res.Status = StatusFailed
		res.Problems = append(res.Problems, Problem{KindFailed, "the recorded validation failed: " + failedLine(res.Bundles)})
	case notCounted:
		res.Status = StatusMissing
		res.Problems = append(res.Problems, Problem{KindCommand, fmt.Sprintf("no bundle records one of the policy's commands (%s)", strings.Join(v.Policy.Commands, "; "))})
	}
	res.ignored = ignored
	v.own[h] = res
	return res, nil
}

func failedLine(bs []BundleResult) string {
	for _, b := range bs {
		if b.Problem == nil && b.Result != Passed {
			return fmt.Sprintf("%q by %s: %s", b.Command, b.Signer, b.Result)
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bundle verifies one bundle against the commit it is attached to.
func (v *Verifier) bundle(h gitstore.Hash, c *gitstore.Commit, changes []Change, raw []byte) (*BundleResult, error) {
	br := &BundleResult{}
	fail := func(kind, format string, args ...any) (*BundleResult, error) {
		br.Problem = &Problem{Kind: kind, Reason: fmt.Sprintf(format, args...)}
		return br, nil
	}
	ignore := func(kind, format string, args ...any) (*BundleResult, error) {
		br.Ignored = true
		return fail(kind, format, args...)
	}
	env, err := attest.Parse(raw)
	if err != nil {
		return ignore(KindBadBundle, "%v", err)
	}
	br.Key = env.KeyHint
	pub, name, ok, err := v.Auth.Key(env.KeyHint)
	if err != nil {
		return nil, err
	}
	if !ok {
		return ignore(KindUnknownSigner, "key %q is not a known identity's", env.KeyHint)
	}
	br.Signer = name
	if err := env.Verify(pub); err != nil {
		return ignore(KindBadSignature, "DSSE signature does not verify under %s's key %s", name, env.KeyHint)
	}
	st, err := attest.ParseStatement(env.Payload)
	if err != nil {
		return ignore(KindBadBundle, "%v", err)
	}
	if st.PredicateType != PredicateType {
		return ignore(KindBadBundle, "predicate type %q, want %q", st.PredicateType, PredicateType)
	}
	for _, s := range st.Subjects {
		if d := s.Digest["gitCommit"]; d != "" && d != h.String() {
			return ignore(KindSubject, "a statement about commit %s, not this one", d)
		}
	}
	var p Predicate
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		return fail(KindBadBundle, "predicate: %v", err)
	}
	ext := p.Covenant
	br.Result, br.Command, br.Task, br.Epoch = p.Result, CommandLine(ext.Evidence.Command), ext.Task, ext.LeaseEpoch
	if ext.Actor.Key != env.KeyHint {
		return fail(KindSignerMismatch, "statement names actor key %q but is signed by %s", ext.Actor.Key, env.KeyHint)
	}
	if (p.Result == Passed) != (ext.Evidence.ExitCode == 0) || (p.Result != Passed && p.Result != Failed) {
		return fail(KindBadBundle, "result %q does not match exit status %d", p.Result, ext.Evidence.ExitCode)
	}
	if why, err := v.subjects(h, c, changes, st.Subjects, br); err != nil {
		return nil, err
	} else if why != "" {
		return fail(KindSubject, "%s", why)
	}
	recorded, err := time.Parse(time.RFC3339, ext.RecordedAt)
	if err != nil {
		return fail(KindBadBundle, "recordedAt %q is not an RFC 3339 time", ext.RecordedAt)
	}
	// The anchor: authority is judged at its position and time.
	digest := BundleDigest(raw)
	an, err := v.Auth.Anchor(env.KeyHint, digest)
	if err != nil {
		return nil, err
	}
	at, when := recorded, ext.RecordedAt
	switch {
	case an != nil && an.Commit != h.String():
		return ignore(KindUnanchored, "%s's anchor %s of this bundle names commit %s, not this one", name, short(an.Op), an.Commit)
	case an != nil:
		br.Anchor, at, br.seq = an.Op, an.At, an.Seq
		when = fmt.Sprintf("anchor %s (seq %d, %s)", short(an.Op), an.Seq, an.At.UTC().Format(time.RFC3339))
		for _, ch := range changes {
			if !contains(an.Paths, ch.Path) {
				return fail(KindUnauthorized, "%s's anchor %s does not name %s, which the commit changes", name, short(an.Op), ch.Path)
			}
		}
	default:
		ok, err := v.isLegacy(h)
		if err != nil {
			return nil, err
		}
		if !ok {
			return ignore(KindUnanchored, "no provenance.anchor op in %s's feed names this bundle (sha256 %s)", name, digest[:12])
		}
		br.Unanchored = true
	}
	br.at = at
	paths := []string{""}
	if len(changes) > 0 {
		paths = ChangedPaths(changes)
	}
	for _, p := range paths {
		why, err := v.Auth.MayRecord(env.KeyHint, p, at, br.seq)
		if err != nil {
			return nil, err
		}
		if why != "" {
			return fail(KindUnauthorized, "%s at %s: %s", name, when, why)
		}
	}
	if why, err := v.lease(ext, name, at); err != nil {
		return nil, err
	} else if why != "" {
		return fail(KindBadLease, "%s", why)
	}
	return br, nil
}

// isLegacy reports whether h is the policy's UnanchoredThrough commit or
// one of its ancestors (walked once, on the first unanchored bundle).
func (v *Verifier) isLegacy(h gitstore.Hash) (bool, error) {
	if v.Policy.UnanchoredThrough.IsZero() {
		return false, nil
	}
	if v.legacy == nil {
		v.legacy = map[gitstore.Hash]bool{}
		err := v.Store.WalkCommits([]gitstore.Hash{v.Policy.UnanchoredThrough}, int(^uint(0)>>1), func(c gitstore.Hash, _ *gitstore.Commit) bool {
			v.legacy[c] = true
			return true
		})
		if err != nil {
			return false, fmt.Errorf("provenance: unanchored_through %s: %w", v.Policy.UnanchoredThrough.Short(), err)
		}
	}
	return v.legacy[h], nil
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// subjects checks the statement's digests against the real objects.
func (v *Verifier) subjects(h gitstore.Hash, c *gitstore.Commit, changes []Change, subs []attest.Subject, br *BundleResult) (string, error) {
	var commitOK, treeOK bool
	changed := map[string]Change{}
	for _, ch := range changes {
		changed[ch.Path] = ch
	}
	seen := map[string]bool{}
	for _, s := range subs {
		switch {
		case s.Digest["gitCommit"] != "":
			if s.Digest["gitCommit"] != h.String() {
				return fmt.Sprintf("gitCommit subject %s, but the note is on %s", s.Digest["gitCommit"], h), nil
			}
			commitOK = true
		case s.Digest["gitTree"] != "":
			if s.Digest["gitTree"] != c.Tree.String() {
				return fmt.Sprintf("gitTree subject %s, but commit %s has tree %s", s.Digest["gitTree"], h.Short(), c.Tree), nil
			}
			treeOK = true
			br.tree = c.Tree.String()
		case s.Digest["gitBlob"] != "":
			p := strings.TrimPrefix(s.Name, "file:")
			ch, ok := changed[p]
			blob := ch.Blob
			if !ok || blob.IsZero() || ch.Gitlink() {
				return fmt.Sprintf("file %s is not a file commit %s changed", p, h.Short()), nil
			}
			if s.Digest["gitBlob"] != blob.String() {
				return fmt.Sprintf("file %s: gitBlob %s, but the commit has %s", p, s.Digest["gitBlob"], blob), nil
			}
			sum, err := BlobSHA256(v.Store, blob)
			if err != nil {
				return "", err
			}
			if s.Digest["sha256"] != sum {
				return fmt.Sprintf("file %s: sha256 %s, but the blob hashes to %s", p, s.Digest["sha256"], sum), nil
			}
			seen[p] = true
			br.blobs = append(br.blobs, ch)
		}
	}
	if !commitOK {
		return "no gitCommit subject", nil
	}
	if !treeOK {
		return "no gitTree subject", nil
	}
	for _, ch := range changes {
		if !ch.Blob.IsZero() && !ch.Gitlink() && !seen[ch.Path] {
			return fmt.Sprintf("file %s changed but is not a subject", ch.Path), nil
		}
	}
	return "", nil
}

// lease checks the task, lease epoch and transition ops the statement names.
// The lease must have been the signer's identity's (holder, the name its
// key belongs to): a lease survives a rotation of its holder's key, so a
// bundle signed with the new key under a lease the old key claimed counts.
func (v *Verifier) lease(ext Extension, holder string, at time.Time) (string, error) {
	if ext.Task == "" {
		if ext.LeaseEpoch != 0 || len(ext.TransitionOps) > 0 {
			return "a lease epoch or transition ops without a task", nil
		}
		return "", nil
	}
	t, err := v.Auth.Task(ext.Task)
	if err != nil {
		return "", err
	}
	if t == nil {
		return fmt.Sprintf("task %s does not exist", ext.Task), nil
	}
	if ext.LeaseEpoch > 0 {
		ok := false
		for _, l := range t.Leases {
			if l.Epoch != ext.LeaseEpoch {
				continue
			}
			ended := l.EndedAt != nil && !at.Before(*l.EndedAt)
			ok = l.HeldBy(holder) && !at.Before(l.AcquiredAt) && at.Before(l.ExpiresAt) && !ended
			if !ok {
				return fmt.Sprintf("task %s lease epoch %d was not held by the signer at %s", t.ID, ext.LeaseEpoch, at.Format(time.RFC3339)), nil
			}
		}
		if !ok {
			return fmt.Sprintf("task %s never had lease epoch %d", t.ID, ext.LeaseEpoch), nil
		}
	}
	ops := map[string]bool{}
	for _, e := range t.History {
		ops[e.Op] = true
	}
	for _, op := range ext.TransitionOps {
		if !ops[op] {
			return fmt.Sprintf("transition op %s is not in task %s's history", op, t.ID), nil
		}
	}
	return "", nil
}
