package covenant

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/config"
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
}

// gitDir is the directory git commands run in.
func (r *Repo) gitWorkDir() string {
	if r.Store.WorkTree != "" {
		return r.Store.WorkTree
	}
	return r.Store.GitDir
}

// ResolveCommit turns a revision into a commit hash with git rev-parse.
func (r *Repo) ResolveCommit(rev string) (gitstore.Hash, error) {
	if rev == "" {
		rev = "HEAD"
	}
	if strings.HasPrefix(rev, "-") {
		return gitstore.ZeroHash, fmt.Errorf("%w: %q", ErrBadRevision, rev)
	}
	out, err := exec.Command("git", "-C", r.gitWorkDir(), "rev-parse", "--verify", "--quiet", rev+"^{commit}").Output()
	if err != nil {
		return gitstore.ZeroHash, fmt.Errorf("%w: %q is not a commit", ErrBadRevision, rev)
	}
	return gitstore.ParseHash(strings.TrimSpace(string(out)))
}

// RevList lists the commits of revision arguments (git rev-list).
func (r *Repo) RevList(args []string) ([]gitstore.Hash, error) {
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("%w: %q", ErrBadRevision, a)
		}
	}
	cmd := exec.Command("git", append([]string{"-C", r.gitWorkDir(), "rev-list"}, append(args, "--")...)...)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadRevision, strings.Join(args, " "))
	}
	return ParseCommitList(strings.NewReader(string(out)))
}

// ParseCommitList reads commit ids, one per line (blank lines skipped).
func ParseCommitList(in io.Reader) ([]gitstore.Hash, error) {
	var out []gitstore.Hash
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
		out = append(out, h)
	}
	return out, sc.Err()
}

// RecordProvenance runs a validation command on a clean checkout of a
// commit and attaches a signed bundle of the evidence to it as a note on
// refs/notes/covenant. The acting identity needs provenance.record for
// every file the commit changed.
func (r *Repo) RecordProvenance(ctx context.Context, o RecordOptions) (*Recorded, error) {
	if err := r.RequireConfig(); err != nil {
		return nil, err
	}
	id, err := r.Identity()
	if err != nil {
		return nil, err
	}
	signer, err := r.Keys.Signer(id.Name)
	if err != nil {
		return nil, err
	}
	commit, err := r.ResolveCommit(o.Commit)
	if err != nil {
		return nil, err
	}
	c, err := r.Store.ReadCommit(commit)
	if err != nil {
		return nil, err
	}
	changes, err := provenance.Changes(r.Store, c)
	if err != nil {
		return nil, err
	}
	keyID := id.KeyID()
	ext := provenance.Extension{Version: 1, Actor: provenance.Actor{Name: id.Name, Key: keyID}}
	// Check authority (and the task) before spending time on the command.
	if err := func() error {
		ix, done, err := r.Read()
		if err != nil {
			return err
		}
		defer done()
		me, err := ix.Actor(keyID)
		if err != nil {
			return err
		}
		if !me.Trusted() {
			return fmt.Errorf("%w: identity %s (key %s) is neither a trust root nor registered", ErrUntrusted, id.Name, keyID)
		}
		now := r.Now()
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
	}(); err != nil {
		return nil, err
	}
	ev, err := provenance.Run(ctx, provenance.RunOptions{Dir: r.gitWorkDir(), Env: r.Store.Env(), Commit: commit, Argv: o.Argv, Output: o.Output, Now: r.Now})
	if err != nil {
		return nil, err
	}
	ext.Evidence = *ev
	ext.RecordedAt = oplog.FormatTime(r.Now())
	pred := &provenance.Predicate{Result: provenance.ResultOf(ev.ExitCode),
		Configuration: []provenance.Descriptor{{Name: provenance.CommandLine(o.Argv)}}, Covenant: ext}
	bundle, err := provenance.Sign(r.Store, commit, pred, keyID, ed25519Signer(signer, id.Name))
	if err != nil {
		return nil, err
	}
	// The notes commit is made by the signer, as feed commits are, so it
	// needs no git identity configured.
	g := r.Store.Git().WithEnv("GIT_AUTHOR_NAME="+id.Name, "GIT_AUTHOR_EMAIL="+keyID+"@covenant.invalid",
		"GIT_COMMITTER_NAME="+id.Name, "GIT_COMMITTER_EMAIL="+keyID+"@covenant.invalid")
	if err := provenance.AppendNote(ctx, g, commit, bundle); err != nil {
		return nil, err
	}
	return &Recorded{Commit: commit.String(), Result: pred.Result, Evidence: *ev, Task: ext.Task, Epoch: ext.LeaseEpoch, Bundle: len(bundle)}, nil
}

// ProvenanceOptions choose what VerifyProvenance checks.
type ProvenanceOptions struct {
	Commits []gitstore.Hash
	// Require makes provenance mandatory for every commit; otherwise the
	// policy decides through Ref.
	Require bool
	// Ref is the ref the commits are bound for (pre-push: the remote ref);
	// the policy's require list is matched against it.
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
func (r *Repo) VerifyProvenance(o ProvenanceOptions) (*provenance.Report, error) {
	if err := r.RequireConfig(); err != nil {
		return nil, err
	}
	cfg := r.Config
	if o.Trust != nil {
		cfg = o.Trust
	}
	notes, err := provenance.ReadNotes(r.Store)
	if err != nil {
		return nil, err
	}
	pol := provenance.Policy{Require: o.Require}
	if p := cfg.Provenance; p != nil {
		pol.Require = pol.Require || p.RequiresProvenance(o.Ref)
		pol.Paths, pol.Commands, pol.BlobRule = p.Paths, p.Commands, p.BlobRule
	}
	var auth *authority
	if cfg.Digest() == r.Config.Digest() {
		// Same roots and workflow: the index is that fold.
		ix, done, err := r.Read()
		if err != nil {
			return nil, err
		}
		defer done()
		auth = &authority{st: ix.State(), task: func(id string) (*tasks.Task, error) {
			t, err := ix.Task(id)
			if errors.Is(err, index.ErrNotFound) || errors.Is(err, index.ErrAmbiguous) || (err == nil && t.ID != id) {
				return nil, nil
			}
			return t, err
		}}
	} else {
		st, err := r.foldPinned(cfg)
		if err != nil {
			return nil, err
		}
		auth = &authority{st: st, task: st.Task}
	}
	v := &provenance.Verifier{Store: r.Store, Notes: notes, Auth: auth, Policy: pol}
	return v.Verify(o.Commits)
}

// authority answers provenance checks from a folded state: the index, or
// the in-memory fold of a pinned config.
type authority struct {
	st   trust.State
	task func(id string) (*tasks.Task, error)
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

func (a *authority) MayRecord(keyID, path string, t time.Time) (string, error) {
	return trust.MayAt(a.st, keyID, trust.Need{Scope: trust.ScopeProvenance, Path: path}, t)
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
func (r *Repo) ExportProvenance(rev string) (gitstore.Hash, []Exported, error) {
	commit, err := r.ResolveCommit(rev)
	if err != nil {
		return commit, nil, err
	}
	if err := r.RequireConfig(); err != nil {
		return commit, nil, err
	}
	ix, done, err := r.Read()
	if err != nil {
		return commit, nil, err
	}
	defer done()
	notes, err := provenance.ReadNotes(r.Store)
	if err != nil {
		return commit, nil, err
	}
	raws, err := notes.Bundles(r.Store, commit)
	if err != nil {
		return commit, nil, err
	}
	auth := &authority{st: ix.State()}
	var out []Exported
	for _, raw := range raws {
		e := Exported{Bundle: raw}
		e.KeyID = provenance.KeyHint(raw)
		if pub, name, ok, err := auth.Key(e.KeyID); err != nil {
			return commit, nil, err
		} else if ok {
			e.Signer = name
			if e.PEM, err = provenance.PublicKeyPEM(pub); err != nil {
				return commit, nil, err
			}
		}
		out = append(out, e)
	}
	return commit, out, nil
}

// SymbolicRef returns the full ref name a revision names, "" if none.
func (r *Repo) SymbolicRef(rev string) string {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return ""
	}
	out, err := exec.Command("git", "-C", r.gitWorkDir(), "rev-parse", "--symbolic-full-name", rev).Output()
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(out))
	if !strings.HasPrefix(s, "refs/") {
		return ""
	}
	return s
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
