// Package ledger turns feed commits into verified ops and ops into signed
// feed commits. Reading a feed checks every commit: its shape, its SSHSIG
// signature by the feed's own key, canonical op JSON, the actor, an unbroken
// sequence and a rising Lamport clock. The first commit that fails stops the
// feed there: it and everything after it are reported and never folded.
//
// It imports gitstore, oplog and identity; what ops mean is for tasks and
// trust.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/oplog"
	"golang.org/x/crypto/ssh"
)

// Finding kinds for feed-level problems.
const (
	KindBadRef       = "bad-ref"
	KindUnsigned     = "unsigned"
	KindBadSignature = "bad-signature"
	KindMalformed    = "malformed"
	KindNotCanonical = "not-canonical"
	KindWrongActor   = "wrong-actor"
	KindSeqGap       = "seq-gap"
	KindLamport      = "lamport-regression"
	KindNoGenesis    = "no-genesis"
	KindRewritten    = "rewritten"
	KindMissing      = "missing-object"
	KindIgnored      = "ignored-after-break"
)

// Finding is one problem verification found.
type Finding struct {
	Kind   string `json:"kind"`
	Feed   string `json:"feed,omitempty"`
	Commit string `json:"commit,omitempty"`
	Op     string `json:"op,omitempty"`
	Reason string `json:"reason"`
	// Severity is "error" (tampering, forgery, missing authority: verify
	// fails) or "conflict" (an op that lost a race with concurrent work, such
	// as a claim made offline while another clone claimed the same task: it
	// is ignored and listed, and fails verify only with --strict).
	Severity string `json:"severity,omitempty"`
}

// IsConflictKind says whether a finding kind is one of the rejections
// honest concurrent work produces.
func IsConflictKind(kind string) bool {
	switch kind {
	case "lease-conflict", "stale-epoch", "lease-expired", "illegal-transition", "duplicate", "witnessed-late":
		return true
	}
	return false
}

func (f Finding) String() string {
	s := f.Kind + ":"
	if f.Feed != "" {
		s += " feed " + f.Feed
	}
	if f.Commit != "" {
		s += " commit " + f.Commit
	}
	if f.Op != "" {
		s += " (" + f.Op + ")"
	}
	return s + ": " + f.Reason
}

// Pos is how far a feed has been read and verified.
type Pos struct {
	Head    string   `json:"head"` // last verified commit
	Seq     uint64   `json:"seq"`
	Lamport uint64   `json:"lamport"`
	Key     string   `json:"key"`              // the feed's public key, from its genesis op
	Broken  *Finding `json:"broken,omitempty"` // first bad commit; nothing after it is read
	Tip     string   `json:"tip"`              // the ref's value when last read
	// Clock is where the causal checks across feeds (Order) have got to.
	Clock *Clock `json:"clock,omitempty"`
}

var keyIDRE = &lazyre.Regexp{Expr: `^[0-9a-f]{32}$`}

// ValidKeyID reports whether s has the form of a key id.
func ValidKeyID(s string) bool { return keyIDRE.MatchString(s) }

// Read verifies the commits of one feed after pos and returns their ops.
// A rewritten feed (pos.Head no longer in it) returns a KindRewritten finding
// and no entries, so the caller can start over from the root.
func Read(st *gitstore.Store, feed string, head gitstore.Hash, pos Pos) ([]*oplog.Entry, Pos, []Finding, error) {
	return ReadContext(context.Background(), st, feed, head, pos)
}

// ReadContext is Read that stops, returning ctx's error, when ctx ends
// (while reading the commits and while checking their signatures).
func ReadContext(ctx context.Context, st *gitstore.Store, feed string, head gitstore.Hash, pos Pos) ([]*oplog.Entry, Pos, []Finding, error) {
	pos.Tip = head.String()
	if !ValidKeyID(feed) {
		f := Finding{Kind: KindBadRef, Feed: feed, Reason: "ref name is not a key id (32 hex digits)"}
		pos.Broken = &f
		return nil, pos, []Finding{f}, nil
	}
	if pos.Broken != nil {
		return nil, pos, nil, nil
	}
	stop := gitstore.ZeroHash
	if pos.Head != "" {
		var err error
		if stop, err = gitstore.ParseHash(pos.Head); err != nil {
			return nil, pos, nil, err
		}
	}
	commits, err := st.WalkFeedContext(ctx, head, stop)
	if errors.Is(err, gitstore.ErrNotAncestor) {
		return nil, pos, []Finding{{Kind: KindRewritten, Feed: feed, Commit: head.String(),
			Reason: fmt.Sprintf("feed no longer contains %s, the head verified before", pos.Head)}}, nil
	}
	if kind := dataErrorKind(err); kind != "" {
		at := head
		var fe *gitstore.FeedCommitError
		if errors.As(err, &fe) {
			at = fe.Commit // the commit that is, or names, the bad object
		}
		f := Finding{Kind: kind, Feed: feed, Commit: at.String(), Reason: err.Error()}
		pos.Broken = &f
		return nil, pos, []Finding{f}, nil
	}
	if err != nil {
		return nil, pos, nil, err
	}
	var pub ssh.PublicKey
	if pos.Key != "" {
		if pub, err = identity.ParsePublicKey(pos.Key); err != nil {
			return nil, pos, nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, pos, nil, err
	}
	sigs := verifySignatures(ctx, commits, pub)
	if err := ctx.Err(); err != nil {
		return nil, pos, nil, err
	}
	var entries []*oplog.Entry
	for i, fc := range commits {
		op, f := check(fc, feed, pos, &pub, sigs[i])
		if f != nil {
			pos.Broken = f
			out := []Finding{*f}
			if rest := len(commits) - i - 1; rest > 0 {
				out = append(out, Finding{Kind: KindIgnored, Feed: feed, Commit: head.String(),
					Reason: fmt.Sprintf("%d later commit(s) ignored after the broken commit %s", rest, fc.Hash.Short())})
			}
			return entries, pos, out, nil
		}
		if op.Seq == 1 {
			pos.Key = identity.FormatPublicKey(pub)
		}
		pos.Head, pos.Seq, pos.Lamport = fc.Hash.String(), op.Seq, op.Lamport
		entries = append(entries, &oplog.Entry{Op: op, Commit: fc.Hash.String(), Feed: feed})
	}
	return entries, pos, nil, nil
}

// dataErrorKind names the finding for an error that comes from the bytes
// stored in the repository (a missing or damaged object, one of the wrong
// type, a commit whose headers do not parse); "" for any other error
// (I/O, permissions), which is the caller's to report.
func dataErrorKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, gitstore.ErrObjectNotFound), errors.Is(err, gitstore.ErrCorruptObject):
		return KindMissing
	case errors.Is(err, gitstore.ErrWrongType), errors.Is(err, gitstore.ErrMalformedCommit):
		return KindMalformed
	}
	return ""
}

// check verifies one commit; pub is the feed key, learned from the genesis op.
// sigResult is a signature check done ahead of time: err is its outcome,
// key the key it was checked against.
type sigResult struct {
	key ssh.PublicKey
	err error
	// the op, decoded in the same worker
	op      *oplog.Op
	opErr   error
	decoded bool
}

// verifySignatures checks the commits' signatures on all cores. The key is
// the feed's, known from an earlier read or from the genesis op of the first
// commit; where it cannot be known yet the check is left to check.
func verifySignatures(ctx context.Context, commits []*gitstore.FeedCommit, pub ssh.PublicKey) []*sigResult {
	out := make([]*sigResult, len(commits))
	if pub == nil && len(commits) > 0 {
		if op, err := oplog.Decode(commits[0].Op); err == nil && op.Seq == 1 {
			pub, _ = GenesisKey(op)
		}
	}
	if pub == nil || len(commits) < 64 {
		return out
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	next := make(chan int, len(commits))
	for i := range commits {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					return // the caller returns ctx's error
				}
				r := &sigResult{decoded: true}
				r.op, r.opErr = oplog.Decode(commits[i].Op)
				if len(commits[i].Commit.Signature) > 0 {
					r.key, r.err = pub, gitstore.VerifyCommit(commits[i].Commit, pub)
				}
				out[i] = r
			}
		}()
	}
	wg.Wait()
	return out
}

func check(fc *gitstore.FeedCommit, feed string, pos Pos, pub *ssh.PublicKey, pre *sigResult) (*oplog.Op, *Finding) {
	bad := func(kind, opType, format string, args ...any) (*oplog.Op, *Finding) {
		return nil, &Finding{Kind: kind, Feed: feed, Commit: fc.Hash.String(), Op: opType, Reason: fmt.Sprintf(format, args...)}
	}
	if fc.Problem != nil {
		return bad(KindMalformed, "", "%v", fc.Problem)
	}
	// Signature first: a forged commit is reported as forged, whatever
	// else is wrong with it. The first commit's key comes from its op.
	checkSig := func(opType string) *Finding {
		if len(fc.Commit.Signature) == 0 {
			_, f := bad(KindUnsigned, opType, "commit is not signed")
			return f
		}
		err := error(nil)
		if pre != nil && pre.key != nil && string(pre.key.Marshal()) == string((*pub).Marshal()) {
			err = pre.err
		} else {
			err = gitstore.VerifyCommit(fc.Commit, *pub)
		}
		if err != nil {
			_, f := bad(KindBadSignature, opType, "%v", err)
			return f
		}
		return nil
	}
	if *pub != nil {
		if f := checkSig(""); f != nil {
			return nil, f
		}
	}
	var op *oplog.Op
	var err error
	if pre != nil && pre.decoded {
		op, err = pre.op, pre.opErr
	} else {
		op, err = oplog.Decode(fc.Op)
	}
	if errors.Is(err, oplog.ErrNotCanonical) {
		return bad(KindNotCanonical, "", "%v", err)
	}
	if err != nil {
		return bad(KindMalformed, "", "%v", err)
	}
	if *pub == nil {
		if op.Seq != 1 {
			return bad(KindNoGenesis, op.Type, "feed key unknown: the feed does not start with a genesis op")
		}
		key, err := GenesisKey(op)
		if err != nil {
			return bad(KindNoGenesis, op.Type, "%v", err)
		}
		if identity.KeyID(key) != feed {
			return bad(KindNoGenesis, op.Type, "genesis key %s does not match the feed's key id", identity.KeyID(key))
		}
		*pub = key
		if f := checkSig(op.Type); f != nil {
			return nil, f
		}
	}
	if op.Actor != feed {
		return bad(KindWrongActor, op.Type, "op names actor %s but sits in feed %s", op.Actor, feed)
	}
	if op.Seq != pos.Seq+1 {
		return bad(KindSeqGap, op.Type, "op has seq %d, expected %d", op.Seq, pos.Seq+1)
	}
	if op.Lamport <= pos.Lamport {
		return bad(KindLamport, op.Type, "lamport %d does not rise above %d", op.Lamport, pos.Lamport)
	}
	for name := range fc.Artifacts {
		if !declaredArtifact(op.Type, name) {
			return bad(KindMalformed, op.Type, "artifact %s is not one a %s op carries", name, op.Type)
		}
	}
	tr := oplog.Trailers(fc.Commit.Message)
	if t := tr["Covenant-Op"]; len(t) != 1 || t[0] != op.Type {
		return bad(KindMalformed, op.Type, "commit message trailer Covenant-Op %v does not match op type", t)
	}
	if !fc.Commit.Committer.When.Equal(op.When()) {
		return bad(KindMalformed, op.Type, "committer time %s differs from op time %s", fc.Commit.Committer.When.Format(time.RFC3339), op.Time)
	}
	return op, nil
}

// BadFeedRefs reports the refs under refs/covenant/feeds/ that are not
// plain object names (symbolic refs, garbage): they are never folded, and
// verify names each one.
func BadFeedRefs(st *gitstore.Store) ([]Finding, error) {
	_, bad, err := st.ScanRefs(gitstore.FeedPrefix)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, b := range bad {
		out = append(out, Finding{Kind: KindBadRef, Feed: strings.TrimPrefix(b.Name, gitstore.FeedPrefix),
			Reason: b.Name + ": " + b.Reason + "; not folded"})
	}
	return out, nil
}

// declaredArtifact says whether an op of type typ may carry the file name
// under artifacts/ in its feed commit's tree; every other op carries none.
func declaredArtifact(typ, name string) bool {
	switch typ {
	case "task.check", "run.record": // run.record: package runs, the run's capped output
		return name == "output.txt"
	}
	return false
}

// GenesisKey extracts the public key a genesis op declares.
func GenesisKey(op *oplog.Op) (ssh.PublicKey, error) {
	if op.Type != "actor.genesis" {
		return nil, fmt.Errorf("first op is %s, not actor.genesis", op.Type)
	}
	var b struct {
		Key string `json:"key"`
	}
	if err := jsonUnmarshal(op.Body, &b); err != nil {
		return nil, err
	}
	return identity.ParsePublicKey(b.Key)
}

// Author is the person line of an actor's feed commits.
func Author(name, keyID string, at time.Time) gitstore.Person {
	return gitstore.Person{Name: name, Email: keyID + "@covenant.invalid", When: at.UTC()}
}
