package covenant_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
	"golang.org/x/crypto/ssh"
)

// honest is a repository whose history was made through the covenant API
// only: alice's feed holds genesis, then the creation of alpha, bravo and
// charlie. Every tamper test starts from one and plants its attack with
// git plumbing, as an attacker with write access to .git would.
type honest struct {
	*fixture
	key     string   // alice's key id
	ref     string   // alice's feed ref
	commits []string // alice's feed, oldest first: genesis, alpha, bravo, charlie
	ids     map[string]string
	// storage is set for damage to objects already verified (not to
	// history): incremental verify only reads what is new, so these are
	// caught by verify --full (and git fsck).
	storage bool
}

func newHonest(t *testing.T) *honest {
	t.Helper()
	f := newFixture(t)
	f.initAlice()
	h := &honest{fixture: f, ids: map[string]string{}}
	r := f.open()
	for _, title := range []string{"alpha", "bravo", "charlie"} {
		tk, err := r.CreateTask(context.Background(), tasks.CreateBody{Title: title})
		if err != nil {
			t.Fatal(err)
		}
		h.ids[title] = tk.ID
	}
	id, err := r.Actor("")
	if err != nil {
		t.Fatal(err)
	}
	h.key = id.KeyID
	h.ref = gitstore.FeedRef(h.key)
	if got := f.feeds(); len(got) != 1 || got[h.key] != h.ref {
		t.Fatalf("feeds = %v, want only %s", got, h.ref)
	}
	h.commits = f.feedCommits(h.ref)
	if len(h.commits) != 4 {
		t.Fatalf("alice's feed has %d commits, want 4", len(h.commits))
	}
	// The honest history is clean, and this verification also remembers
	// the heads so that a later rewrite is noticed.
	f.verifyClean()
	if got := titles(f.taskList()); !slices.Equal(got, []string{"alpha", "bravo", "charlie"}) {
		t.Fatalf("honest task list = %v", got)
	}
	return h
}

func (h *honest) head() string { return h.git("rev-parse", h.ref) }

func (h *honest) blob(content []byte) string {
	return h.gitIn(content, "hash-object", "-w", "--stdin")
}

func (h *honest) opTree(blob string) string {
	return h.gitIn([]byte("100644 blob "+blob+"\t"+gitstore.OpFile+"\n"), "mktree")
}

func (h *honest) catCommit(c string) []byte { return h.gitRaw(h.dir, nil, "cat-file", "commit", c) }

// writeCommit stores raw commit content as it is, like an attacker would.
func (h *honest) writeCommit(raw []byte) string {
	return h.gitIn(raw, "hash-object", "-t", "commit", "-w", "--stdin", "--literally")
}

func (h *honest) moveFeed(ref, newHead, oldHead string) {
	h.git("update-ref", ref, newHead, oldHead)
}

// nextCreate builds the task.create op that would follow alice's head.
func (h *honest) nextCreate(actor, title string, after *oplog.Op, at time.Time) *oplog.Op {
	h.t.Helper()
	body, err := json.Marshal(tasks.CreateBody{Title: title, Priority: tasks.DefaultPriority})
	if err != nil {
		h.t.Fatal(err)
	}
	op := &oplog.Op{V: oplog.Version, Type: tasks.OpCreate, Actor: actor, Seq: after.Seq + 1,
		Lamport: after.Lamport + 1, Time: oplog.FormatTime(at), Body: body}
	op.Task = tasks.NewID(actor, op.Seq)
	return op
}

func encode(t *testing.T, op *oplog.Op) []byte {
	t.Helper()
	raw, err := op.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func replaceOnce(t *testing.T, raw []byte, old, new string) []byte {
	t.Helper()
	if bytes.Count(raw, []byte(old)) != 1 {
		t.Fatalf("%q occurs %d times in\n%s", old, bytes.Count(raw, []byte(old)), raw)
	}
	return bytes.Replace(raw, []byte(old), []byte(new), 1)
}

func otherSigner(t *testing.T, seed byte) ssh.Signer {
	t.Helper()
	b := make([]byte, ed25519.SeedSize)
	b[0], b[1] = seed, 0x5a
	s, err := identity.NewSigner(ed25519.NewKeyFromSeed(b))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// expectCaught asserts that the service layer reports a finding of kind
// naming feed and commit, that `git covenant verify` exits 10 and prints it,
// and that no forged task shows up in the index.
func (h *honest) expectCaught(kind, feed, commit string, forgedTitles, forgedIDs []string) ledger.Finding {
	h.t.Helper()
	var rep *covenant.VerifyReport
	var err error
	args := []string{"verify"}
	if h.storage {
		rep, err = h.open().Verify(context.Background(), covenant.VerifyOptions{Full: true})
		args = append(args, "--full")
	} else {
		rep, err = verifyBoth(h.t, h.open())
	}
	if err != nil {
		h.t.Fatalf("Verify: %v", err)
	}
	fd := findFinding(h.t, rep.Findings, kind, feed, commit)
	res := h.cli(args...)
	if res.code != 10 {
		h.t.Fatalf("git covenant verify after tampering: want exit 10, got %s", res)
	}
	if !strings.Contains(res.stdout, kind+": feed "+feed) || (commit != "" && !strings.Contains(res.stdout, commit)) {
		h.t.Fatalf("git covenant verify does not print the %s finding on %s %s:\n%s", kind, feed, commit, res.stdout)
	}
	// A second run still fails: a failed verification must not remember
	// the tampered heads as good.
	if res := h.cli(args...); res.code != 10 {
		h.t.Fatalf("second git covenant verify after tampering: want exit 10, got %s", res)
	}
	got := titles(h.taskList())
	for _, ft := range forgedTitles {
		if slices.Contains(got, ft) {
			h.t.Fatalf("forged task %q is in task list: %v", ft, got)
		}
	}
	for _, id := range forgedIDs {
		if res := h.cli("task", "show", id); res.code != 4 {
			h.t.Fatalf("task show of forged task %s: want exit 4, got %s", id, res)
		}
	}
	return fd
}

func TestTamper(t *testing.T) {
	t.Run("UnsignedCommitAppended", func(t *testing.T) {
		t.Parallel()
		h := newHonest(t)
		old := h.head()
		at := time.Now().UTC().Truncate(time.Second)
		op := h.nextCreate(h.key, "forged unsigned", h.opAt(old), at)
		tree := h.opTree(h.blob(encode(t, op)))
		date := at.Format(time.RFC3339)
		forged := strings.TrimSpace(string(h.gitEnv(h.dir, []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date},
			[]byte(oplog.Message(op, "forged unsigned")), "commit-tree", tree, "-p", old, "-F", "-")))
		if bytes.Contains(h.catCommit(forged), []byte("gpgsig")) {
			t.Fatal("the planted commit is signed")
		}
		h.moveFeed(h.ref, forged, old)
		h.expectCaught(ledger.KindUnsigned, h.key, forged, []string{"forged unsigned"}, []string{op.Task})
		// The honest tasks before the forged commit still fold.
		if got := titles(h.taskList()); !slices.Equal(got, []string{"alpha", "bravo", "charlie"}) {
			t.Fatalf("task list = %v", got)
		}
		// alice's own writer refuses to build on a broken feed, writing nothing.
		before := h.covenantRefs()
		if res := h.cli("task", "create", "on top"); res.code != 10 {
			t.Fatalf("task create on a broken feed: want exit 10, got %s", res)
		}
		if after := h.covenantRefs(); after != before {
			t.Fatalf("refs changed by a refused write:\n%s\n%s", before, after)
		}
	})

	t.Run("SignedByAnotherKey", func(t *testing.T) {
		t.Parallel()
		h := newHonest(t)
		old := h.head()
		oldHash, _ := gitstore.ParseHash(old)
		at := time.Now().UTC().Truncate(time.Second)
		op := h.nextCreate(h.key, "forged by mallory", h.opAt(old), at)
		tree, err := gitstore.ParseHash(h.opTree(h.blob(encode(t, op))))
		if err != nil {
			t.Fatal(err)
		}
		c := &gitstore.Commit{Tree: tree, Parents: []gitstore.Hash{oldHash}, Author: ledger.Author("alice", h.key, at),
			Committer: ledger.Author("alice", h.key, at), Message: oplog.Message(op, "forged by mallory")}
		raw, err := gitstore.SignCommit(c, otherSigner(t, 7))
		if err != nil {
			t.Fatal(err)
		}
		forged := h.writeCommit(raw)
		h.moveFeed(h.ref, forged, old)
		fd := h.expectCaught(ledger.KindBadSignature, h.key, forged, []string{"forged by mallory"}, []string{op.Task})
		if !strings.Contains(fd.Reason, "another key") {
			t.Fatalf("reason %q does not say the key differs", fd.Reason)
		}
	})

	t.Run("MiddleOpDropped", func(t *testing.T) {
		t.Parallel()
		h := newHonest(t)
		alpha, bravo, charlie := h.commits[1], h.commits[2], h.commits[3]
		// charlie re-parented onto alpha, keeping its signature header.
		raw := replaceOnce(t, h.catCommit(charlie), "parent "+bravo+"\n", "parent "+alpha+"\n")
		if !bytes.Contains(raw, []byte("\ngpgsig ")) {
			t.Fatal("no signature header to keep")
		}
		forged := h.writeCommit(raw)
		h.moveFeed(h.ref, forged, charlie)
		// The parent is part of what alice signed, so the kept signature no
		// longer verifies (the ledger checks signatures before anything else).
		h.expectCaught(ledger.KindBadSignature, h.key, forged, []string{"bravo"}, []string{h.ids["bravo"]})
		rw := findFinding(t, h.mustVerify().Findings, ledger.KindRewritten, h.key, forged)
		if !strings.Contains(rw.Reason, charlie) {
			t.Fatalf("rewritten finding does not name the head verified before: %q", rw.Reason)
		}
		// Nothing from the broken commit on folds: only alpha is left.
		if got := titles(h.taskList()); !slices.Equal(got, []string{"alpha"}) {
			t.Fatalf("task list = %v, want [alpha]", got)
		}
	})

	t.Run("MiddleOpDroppedResignedByOwner", func(t *testing.T) {
		t.Parallel()
		h := newHonest(t)
		alpha, charlie := h.commits[1], h.commits[3]
		// Even alice's own key cannot drop an op: re-signing charlie onto
		// alpha leaves a hole in the sequence.
		signer, err := (&identity.Keystore{Dir: h.home}).Signer("alice")
		if err != nil {
			t.Fatal(err)
		}
		st := h.store()
		c, err := st.ReadCommit(mustHash(t, charlie))
		if err != nil {
			t.Fatal(err)
		}
		c.Parents = []gitstore.Hash{mustHash(t, alpha)}
		raw, err := gitstore.SignCommit(c, signer)
		if err != nil {
			t.Fatal(err)
		}
		forged := h.writeCommit(raw)
		h.moveFeed(h.ref, forged, charlie)
		fd := h.expectCaught(ledger.KindSeqGap, h.key, forged, []string{"bravo"}, []string{h.ids["bravo"]})
		if !strings.Contains(fd.Reason, "seq 4, expected 3") {
			t.Fatalf("reason %q", fd.Reason)
		}
		findFinding(t, h.mustVerify().Findings, ledger.KindRewritten, h.key, forged)
		if got := titles(h.taskList()); !slices.Equal(got, []string{"alpha"}) {
			t.Fatalf("task list = %v, want [alpha]", got)
		}
	})

	t.Run("OpBlobChanged", func(t *testing.T) {
		t.Parallel()
		h := newHonest(t)
		bravo, charlie := h.commits[2], h.commits[3]
		orig := h.gitRaw(h.dir, nil, "cat-file", "blob", bravo+":"+gitstore.OpFile)
		evil := replaceOnce(t, orig, `"title":"bravo"`, `"title":"bravo-evil"`)
		if _, err := oplog.Decode(evil); err != nil {
			t.Fatalf("the changed op should still be canonical and well-formed: %v", err)
		}
		oldTree := h.git("rev-parse", bravo+"^{tree}")
		newTree := h.opTree(h.blob(evil))
		// New commit with the new tree and bravo's original headers,
		// signature included; charlie is re-parented onto it likewise.
		forgedBravo := h.writeCommit(replaceOnce(t, h.catCommit(bravo), "tree "+oldTree+"\n", "tree "+newTree+"\n"))
		forgedCharlie := h.writeCommit(replaceOnce(t, h.catCommit(charlie), "parent "+bravo+"\n", "parent "+forgedBravo+"\n"))
		h.moveFeed(h.ref, forgedCharlie, charlie)
		h.expectCaught(ledger.KindBadSignature, h.key, forgedBravo, []string{"bravo-evil"}, nil)
		if got := titles(h.taskList()); !slices.Equal(got, []string{"alpha"}) {
			t.Fatalf("task list = %v, want [alpha]", got)
		}
	})

	t.Run("FeedTruncated", func(t *testing.T) {
		t.Parallel()
		h := newHonest(t)
		alpha, charlie := h.commits[1], h.commits[3]
		h.moveFeed(h.ref, alpha, charlie)
		fd := h.expectCaught(ledger.KindRewritten, h.key, alpha, nil, nil)
		if !strings.Contains(fd.Reason, charlie) {
			t.Fatalf("reason %q does not name the head verified before", fd.Reason)
		}
		// A clone that never saw charlie has nothing to compare with: the
		// memory of verified heads is local. Here it is, so the finding
		// stays until the feed grows back to include the old head.
		h.moveFeed(h.ref, charlie, alpha)
		h.verifyClean()
	})

	t.Run("LooseObjectOverwritten", func(t *testing.T) {
		t.Parallel()
		h := newHonest(t)
		bravo := h.commits[2]
		blob := h.git("rev-parse", bravo+":"+gitstore.OpFile)
		content := h.gitRaw(h.dir, nil, "cat-file", "blob", blob)
		other := replaceOnce(t, content, `"title":"bravo"`, `"title":"BRAVO"`)
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write([]byte("blob " + strconv.Itoa(len(other)) + "\x00"))
		zw.Write(other)
		zw.Close()
		path := h.unpackAll(blob)
		os.Chmod(path, 0o644)
		if err := os.WriteFile(path, z.Bytes(), 0o444); err != nil {
			t.Fatal(err)
		}
		h.storage = true
		fd := h.expectCaught(ledger.KindMissing, h.key, bravo, []string{"BRAVO"}, nil)
		if !strings.Contains(fd.Reason, blob) {
			t.Fatalf("reason %q does not name the damaged object", fd.Reason)
		}
		// git agrees that the object is damaged.
		if out, err := tryGit(h.fixture, "fsck", "--strict"); err == nil {
			t.Fatalf("git fsck accepted the damaged object:\n%s", out)
		}
	})

	t.Run("LooseObjectGarbage", func(t *testing.T) {
		t.Parallel()
		h := newHonest(t)
		bravo := h.commits[2]
		blob := h.git("rev-parse", bravo+":"+gitstore.OpFile)
		path := h.unpackAll(blob)
		os.Chmod(path, 0o644)
		if err := os.WriteFile(path, []byte("this is not a zlib stream"), 0o444); err != nil {
			t.Fatal(err)
		}
		h.storage = true
		h.expectCaught(ledger.KindMissing, h.key, bravo, nil, nil)
	})

	t.Run("UnregisteredKeyFeed", func(t *testing.T) {
		t.Parallel()
		h := newHonest(t)
		mallory := otherSigner(t, 9)
		mkey := identity.KeyID(mallory.PublicKey())
		last := h.opAt(h.head())
		at := time.Now().UTC().Truncate(time.Second)
		gbody, _ := json.Marshal(map[string]string{"name": "mallory", "role": "agent", "key": identity.FormatPublicKey(mallory.PublicKey())})
		genesis := &oplog.Op{V: oplog.Version, Type: "actor.genesis", Actor: mkey, Seq: 1, Lamport: last.Lamport + 1, Time: oplog.FormatTime(at), Body: gbody}
		create := h.nextCreate(mkey, "forged by unregistered key", genesis, at)
		recs := []gitstore.Record{
			{Op: encode(t, genesis), Message: oplog.Message(genesis, "mallory"), Author: ledger.Author("mallory", mkey, at)},
			{Op: encode(t, create), Message: oplog.Message(create, "forged"), Author: ledger.Author("mallory", mkey, at)},
		}
		st := h.store()
		hs, err := st.BuildFeedCommits(gitstore.ZeroHash, recs, mallory)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateRef(gitstore.FeedRef(mkey), gitstore.ZeroHash, hs[1]); err != nil {
			t.Fatal(err)
		}
		// The feed itself is well-formed and properly signed by its key.
		es, _, fs, err := ledger.Read(st, mkey, hs[1], ledger.Pos{})
		if err != nil || len(fs) != 0 || len(es) != 2 {
			t.Fatalf("mallory's feed should read cleanly: %d entries, findings %v, err %v", len(es), fs, err)
		}
		h.expectCaught(oplog.KindUntrustedKey, mkey, hs[0].String(), nil, nil)
		h.expectCaught(oplog.KindUntrustedKey, mkey, hs[1].String(), []string{"forged by unregistered key"}, []string{create.Task})
	})

	t.Run("NonCanonicalOpSignedByOwner", func(t *testing.T) {
		t.Parallel()
		h := newHonest(t)
		old := h.head()
		oldHash, _ := gitstore.ParseHash(old)
		at := time.Now().UTC().Truncate(time.Second)
		op := h.nextCreate(h.key, "not canonical", h.opAt(old), at)
		canon := encode(t, op)
		loose := bytes.ReplaceAll(canon, []byte(`,"`), []byte(`, "`))
		if bytes.Equal(loose, canon) || !json.Valid(loose) {
			t.Fatal("could not make a non-canonical variant")
		}
		if c, err := oplog.Canonicalize(loose); err != nil || !bytes.Equal(c, canon) {
			t.Fatalf("the variant should have the same fields: %v", err)
		}
		if _, err := oplog.Decode(loose); !errors.Is(err, oplog.ErrNotCanonical) {
			t.Fatalf("Decode of the variant: %v", err)
		}
		signer, err := (&identity.Keystore{Dir: h.home}).Signer("alice")
		if err != nil {
			t.Fatal(err)
		}
		st := h.store()
		hs, err := st.BuildFeedCommits(oldHash, []gitstore.Record{{Op: loose, Message: oplog.Message(op, "not canonical"),
			Author: ledger.Author("alice", h.key, at)}}, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := st.ReadCommit(hs[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := gitstore.VerifyCommit(c, signer.PublicKey()); err != nil {
			t.Fatalf("the planted commit should carry alice's valid signature: %v", err)
		}
		if err := st.UpdateRef(h.ref, oldHash, hs[0]); err != nil {
			t.Fatal(err)
		}
		h.expectCaught(ledger.KindNotCanonical, h.key, hs[0].String(), []string{"not canonical"}, []string{op.Task})
	})
}

func (h *honest) mustVerify() *covenant.VerifyReport {
	h.t.Helper()
	rep, err := verifyBoth(h.t, h.open())
	if err != nil {
		h.t.Fatal(err)
	}
	return rep
}

func mustHash(t *testing.T, s string) gitstore.Hash {
	t.Helper()
	h, err := gitstore.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// unpackAll turns every packed object loose (writers pack theirs, see
// gitstore/pack.go), as git unpack-objects does with packs moved out of the
// way, so that one object's only copy is a loose file, and returns the path
// of obj's.
func (f *fixture) unpackAll(obj string) string {
	f.t.Helper()
	packs, _ := filepath.Glob(filepath.Join(f.dir, ".git", "objects", "pack", "pack-*.pack"))
	aside := f.t.TempDir()
	for _, p := range packs {
		moved := filepath.Join(aside, filepath.Base(p))
		if err := os.Rename(p, moved); err != nil {
			f.t.Fatal(err)
		}
		base := strings.TrimSuffix(p, ".pack")
		for _, ext := range []string{".idx", ".keep", ".rev"} {
			os.Remove(base + ext)
		}
		b, err := os.ReadFile(moved)
		if err != nil {
			f.t.Fatal(err)
		}
		f.gitIn(b, "unpack-objects", "-q")
	}
	path := filepath.Join(f.dir, ".git", "objects", obj[:2], obj[2:])
	if _, err := os.Stat(path); err != nil {
		f.t.Fatalf("%s is not a loose object after unpacking: %v", obj, err)
	}
	return path
}
