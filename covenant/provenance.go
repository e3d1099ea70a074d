package covenant

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/fold"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/provenance"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
	"golang.org/x/crypto/ssh"
)

// ErrBadRevision means a commit or revision range does not resolve.
var ErrBadRevision = errors.New("bad revision")

// RecordOptions say what provenance to record.
type RecordOptions struct {
	Commit string   // revision; "" means HEAD
	Task   string   // task id or prefix; "" for none
	Argv   []string // validation command
	Output io.Writer
}

// Recorded is the result of RecordProvenance.
type Recorded struct {
	Commit   string              `json:"commit"`
	Result   string              `json:"result"`
	Evidence provenance.Evidence `json:"evidence"`
	Task     string              `json:"task,omitempty"`
	Epoch    uint64              `json:"lease_epoch,omitempty"`
	Bundle   int                 `json:"bundle_bytes"`
	// Anchor is the provenance.anchor op (feed commit) written for the bundle.
	Anchor string `json:"anchor"`
}

// gitWorkDir is the directory git commands run in.
func (s *Service) gitWorkDir() string {
	if st := s.store(); st.WorkTree != "" {
		return st.WorkTree
	}
	return s.store().GitDir
}

// resolveCommit turns a revision into a commit hash with git rev-parse.
func (s *Service) resolveCommit(ctx context.Context, rev string) (gitstore.Hash, error) {
	if rev == "" {
		rev = "HEAD"
	}
	if strings.HasPrefix(rev, "-") {
		return gitstore.ZeroHash, fmt.Errorf("%w: %q", ErrBadRevision, rev)
	}
	out, err := s.store().Git().Output(ctx, []string{"rev-parse", "--verify", "--quiet", rev + "^{commit}"})
	if err := ctx.Err(); err != nil {
		return gitstore.ZeroHash, err
	}
	if err != nil {
		return gitstore.ZeroHash, fmt.Errorf("%w: %q is not a commit", ErrBadRevision, rev)
	}
	return gitstore.ParseHash(strings.TrimSpace(string(out)))
}

// RevList lists the commits of revision arguments (git rev-list).
func (s *Service) RevList(ctx context.Context, args []string) ([]string, error) {
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("%w: %q", ErrBadRevision, a)
		}
	}
	out, err := s.store().Git().Output(ctx, append(append([]string{"rev-list"}, args...), "--"))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadRevision, strings.Join(args, " "))
	}
	return ParseCommitList(strings.NewReader(string(out)))
}

// ParseCommitList reads commit ids, one per line (blank lines skipped),
// refusing anything that is not a full commit id.
func ParseCommitList(in io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		h, err := gitstore.ParseHash(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not a commit id", ErrBadRevision, line)
		}
		out = append(out, h.String())
	}
	return out, sc.Err()
}

// RecordProvenance runs a validation command on a clean checkout of a
// commit and attaches a signed bundle of the evidence to it as a note on
// refs/notes/covenant. The acting identity needs provenance.record for
// every file the commit changed.
func (s *Service) RecordProvenance(ctx context.Context, o RecordOptions) (*Recorded, error) {
	if _, err := s.requireConfig(); err != nil {
		return nil, err
	}
	id, err := s.Actor("")
	if err != nil {
		return nil, err
	}
	commit, err := s.resolveCommit(ctx, o.Commit)
	if err != nil {
		return nil, err
	}
	c, err := s.store().ReadCommit(commit)
	if err != nil {
		return nil, err
	}
	changes, err := provenance.Changes(s.store(), c)
	if err != nil {
		return nil, err
	}
	keyID := id.KeyID
	ext := provenance.Extension{Version: 1, Actor: provenance.Actor{Name: id.Name, Key: keyID}}
	// Check authority (and the task) before spending time on the command.
	if err := s.read(ctx, func(ix *index.Index) error {
		me, err := ix.Actor(keyID)
		if err != nil {
			return err
		}
		if !me.Trusted() {
			return fmt.Errorf("%w: identity %s (key %s) is neither a trust root nor registered", ErrUntrusted, id.Name, keyID)
		}
		now := s.now()
		paths := []string{""}
		if len(changes) > 0 {
			paths = paths[:0]
			for _, ch := range changes {
				paths = append(paths, ch.Path)
			}
		}
		for _, p := range paths {
			// The same check verify makes of the record later.
			if why, err := trust.MayAt(ix.State(), keyID, trust.Need{Scope: trust.ScopeProvenance, Path: p}, now); err != nil {
				return err
			} else if why != "" {
				return oplog.Reject(oplog.KindUnauthorized, "%s", why)
			}
		}
		if o.Task != "" {
			t, err := ix.Task(o.Task)
			if err != nil {
				return err
			}
			ext.Task = t.ID
			if t.Lease.HeldBy(id.Name) && t.Lease.ActiveAt(now) {
				ext.LeaseEpoch = t.Lease.Epoch
			}
			for _, e := range t.History {
				switch e.Type {
				case tasks.OpClaim, tasks.OpMove:
					ext.TransitionOps = append(ext.TransitionOps, e.Op)
				}
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	ev, err := provenance.Run(ctx, provenance.RunOptions{Dir: s.gitWorkDir(), Env: s.store().Env(), Commit: commit, Argv: o.Argv, Output: o.Output, Now: s.c.now})
	if err != nil {
		return nil, err
	}
	ext.Evidence = *ev
	ext.RecordedAt = oplog.FormatTime(s.now())
	pred := &provenance.Predicate{Result: provenance.ResultOf(ev.ExitCode),
		Configuration: []provenance.Descriptor{{Name: provenance.CommandLine(o.Argv)}}, Covenant: ext}
	bundle, err := provenance.Sign(s.store(), commit, pred, keyID, ed25519Signer(id.signer, id.Name))
	if err != nil {
		return nil, err
	}
	// The anchor first: the fold judges the signer's authority at its
	// position, and only an anchored bundle counts. A note whose anchor
	// was refused is never written.
	digest := provenance.BundleDigest(bundle)
	w, err := s.write(ctx, func(*index.Tx, *trust.Actor) ([]Draft, error) {
		return []Draft{{Type: provenance.OpAnchor, Summary: "provenance " + commit.Short() + " " + digest[:12],
			Body: provenance.AnchorBody{Commit: commit.String(), Bundle: digest, Paths: provenance.ChangedPaths(changes)}}}, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	if len(w.Entries) != 1 {
		return nil, fmt.Errorf("provenance anchor was not written")
	}
	// The notes commit is made by the signer, as feed commits are, so it
	// needs no git identity configured; its objects are kept from git's
	// maintenance until the notes ref names them.
	who := gitstore.Person{Name: id.Name, Email: keyID + "@covenant.invalid", When: s.now().UTC().Truncate(time.Second)}
	if err := provenance.AppendNote(s.store(), commit, bundle, who); err != nil {
		return nil, fmt.Errorf("record the note on %s: %w", commit.Short(), err)
	}
	return &Recorded{Commit: commit.String(), Result: pred.Result, Evidence: *ev, Task: ext.Task, Epoch: ext.LeaseEpoch, Bundle: len(bundle), Anchor: w.Entries[0].Commit}, nil
}

// ProvenanceOptions choose what VerifyProvenance checks.
type ProvenanceOptions struct {
	// Revs are revision arguments (git rev-list: a range, a commit).
	Revs []string
	// Commits are full commit ids, checked too (pre-push reads them from
	// standard input; see ParseCommitList).
	Commits []string
	// Require makes provenance mandatory for every commit; otherwise the
	// policy decides through Ref.
	Require bool
	// Ref is the ref the commits are bound for (pre-push: the remote ref);
	// the policy's require list is matched against it. "" with a single
	// Revs range means the ref its right side names, if any.
	Ref string
	// Trust, if set, is a pinned config (--trust, --policy-from): its
	// roots, identities (through the fold it implies) and [provenance]
	// policy replace the working tree's, which a branch under review
	// controls.
	Trust *config.Config
}

// VerifyProvenance checks the provenance of commits against the folded
// state and the [provenance] policy, both from the pinned config when one
// is given, else from the repository's own.
func (s *Service) VerifyProvenance(ctx context.Context, o ProvenanceOptions) (*provenance.RangeReport, error) {
	own, err := s.requireConfig()
	if err != nil {
		return nil, err
	}
	cfg := own
	if o.Trust != nil {
		cfg = o.Trust
	}
	var commits []gitstore.Hash
	for _, c := range o.Commits {
		h, err := gitstore.ParseHash(c)
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not a commit id", ErrBadRevision, c)
		}
		commits = append(commits, h)
	}
	if len(o.Revs) > 0 {
		cs, err := s.RevList(ctx, o.Revs)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			h, _ := gitstore.ParseHash(c)
			commits = append(commits, h)
		}
	}
	ref := o.Ref
	if ref == "" && len(o.Revs) == 1 {
		// A range's right side that names a ref (origin/main..main) is
		// the ref the policy is matched against.
		_, right, _ := strings.Cut(o.Revs[0], "..")
		if right == "" {
			right = o.Revs[0]
		}
		ref = s.symbolicRef(ctx, strings.TrimPrefix(right, "."))
	}
	notes, err := provenance.ReadNotes(s.store())
	if err != nil {
		return nil, err
	}
	pol := provenance.Policy{Require: o.Require}
	if p := cfg.Provenance; p != nil {
		pol.Require = pol.Require || p.RequiresProvenance(ref)
		pol.Paths, pol.Commands, pol.BlobRule = p.Paths, p.Commands, p.BlobRule
		if p.UnanchoredThrough != "" {
			if pol.UnanchoredThrough, err = gitstore.ParseHash(p.UnanchoredThrough); err != nil {
				return nil, fmt.Errorf("%w: provenance.unanchored_through: %v", ErrBadRevision, err)
			}
		}
	}
	verify := func(auth *authority) (*provenance.RangeReport, error) {
		v := &provenance.Verifier{Store: s.store(), Notes: notes, Auth: auth, Policy: pol}
		return v.Verify(commits)
	}
	if cfg.Digest() != own.Digest() {
		st, err := s.foldPinned(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return verify(&authority{st: st, task: st.Task})
	}
	// Same roots and workflow: the index is that fold.
	var rep *provenance.RangeReport
	err = s.read(ctx, func(ix *index.Index) (err error) {
		rep, err = verify(&authority{st: indexState(ix), task: func(id string) (*tasks.Task, error) {
			t, err := ix.Task(id)
			if errors.Is(err, index.ErrNotFound) || errors.Is(err, index.ErrAmbiguous) || (err == nil && t.ID != id) {
				return nil, nil
			}
			return t, err
		}})
		return err
	})
	return rep, err
}

// authority answers provenance checks from a folded state: the index, or
// the in-memory fold of a pinned config.
type authority struct {
	st   anchorState
	task func(id string) (*tasks.Task, error)
}

// indexState is the index's read-only view of folded state, records
// included.
func indexState(ix *index.Index) anchorState { return ix.State().(anchorState) }

// anchorState is a folded state with its records (provenance anchors).
type anchorState interface {
	trust.State
	fold.Records
}

func (a *authority) Key(keyID string) (ed25519.PublicKey, string, bool, error) {
	act, err := a.st.Actor(keyID)
	if err != nil || act == nil || act.Key == "" {
		return nil, "", false, err
	}
	ed, ok := edKey(act.Key)
	if !ok {
		return nil, "", false, nil
	}
	return ed, act.Name, true, nil
}

func (a *authority) MayRecord(keyID, path string, t time.Time, seq uint64) (string, error) {
	return trust.MayAt(a.st, keyID, trust.Need{Scope: trust.ScopeProvenance, Path: path, Seq: seq}, t)
}

func (a *authority) Anchor(keyID, digest string) (*provenance.Anchor, error) {
	var an provenance.Anchor
	ok, err := a.st.Record(provenance.AnchorKind, provenance.AnchorKey(keyID, digest), &an)
	if err != nil || !ok {
		return nil, err
	}
	return &an, nil
}

func (a *authority) Task(id string) (*tasks.Task, error) { return a.task(id) }

// Exported is one bundle ready to hand to other tools.
type Exported struct {
	Bundle []byte
	KeyID  string
	Signer string
	PEM    []byte // the signer's public key, PKIX PEM; nil if unknown
}

// ExportProvenance returns the bundles attached to a commit with their
// signers' public keys.
func (s *Service) ExportProvenance(ctx context.Context, rev string) (string, []Exported, error) {
	commit, err := s.resolveCommit(ctx, rev)
	if err != nil {
		return "", nil, err
	}
	if _, err := s.requireConfig(); err != nil {
		return commit.String(), nil, err
	}
	notes, err := provenance.ReadNotes(s.store())
	if err != nil {
		return commit.String(), nil, err
	}
	raws, err := notes.Bundles(s.store(), commit)
	if err != nil {
		return commit.String(), nil, err
	}
	var out []Exported
	err = s.read(ctx, func(ix *index.Index) error {
		auth := &authority{st: indexState(ix)}
		for _, raw := range raws {
			e := Exported{Bundle: raw}
			e.KeyID = provenance.KeyHint(raw)
			if pub, name, ok, err := auth.Key(e.KeyID); err != nil {
				return err
			} else if ok {
				e.Signer = name
				if e.PEM, err = provenance.PublicKeyPEM(pub); err != nil {
					return err
				}
			}
			out = append(out, e)
		}
		return nil
	})
	return commit.String(), out, err
}

// symbolicRef returns the full ref name a revision names, "" if none.
func (s *Service) symbolicRef(ctx context.Context, rev string) string {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return ""
	}
	out, err := s.store().Git().Output(ctx, []string{"rev-parse", "--symbolic-full-name", rev})
	if err != nil {
		return ""
	}
	name := strings.TrimSpace(string(out))
	if !strings.HasPrefix(name, "refs/") {
		return ""
	}
	return name
}

// ed25519Signer signs DSSE payloads with an identity's key: the raw
// ed25519 signature, as DSSE wants it.
func ed25519Signer(signer ssh.Signer, name string) func([]byte) ([]byte, error) {
	return func(msg []byte) ([]byte, error) {
		sig, err := signer.Sign(nil, msg)
		if err != nil {
			return nil, err
		}
		if sig.Format != ssh.KeyAlgoED25519 {
			return nil, fmt.Errorf("%w: %s is not an ed25519 key", identity.ErrBadKey, name)
		}
		return sig.Blob, nil
	}
}
