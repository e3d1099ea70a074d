package covenant_test

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/attest"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/provenance"
	"golang.org/x/crypto/ssh"
)

// plantSSH appends op to the feed whose head is parent, as a commit made
// with stock git (`git commit-tree -S`, gpg.format=ssh, so ssh-keygen signs
// it) with the private key file key, and moves the feed ref with
// update-ref. It returns the commit.
func (f *fixture) plantSSH(key, name, keyID, parent string, op *oplog.Op) string {
	f.t.Helper()
	raw, err := op.Encode()
	if err != nil {
		f.t.Fatal(err)
	}
	blob := f.gitIn(raw, "hash-object", "-w", "--stdin")
	tree := f.gitIn([]byte("100644 blob "+blob+"\t"+gitstore.OpFile+"\n"), "mktree")
	date := fmt.Sprintf("%d +0000", op.When().Unix())
	who := []string{"GIT_AUTHOR_NAME=" + name, "GIT_AUTHOR_EMAIL=" + keyID + "@covenant.invalid", "GIT_AUTHOR_DATE=" + date,
		"GIT_COMMITTER_NAME=" + name, "GIT_COMMITTER_EMAIL=" + keyID + "@covenant.invalid", "GIT_COMMITTER_DATE=" + date}
	c := strings.TrimSpace(string(f.gitEnv(f.dir, who, []byte(oplog.Message(op, "planted")),
		"-c", "gpg.format=ssh", "-c", "user.signingKey="+key, "commit-tree", "-S", tree, "-p", parent, "-F", "-")))
	f.git("update-ref", gitstore.FeedRef(keyID), c, parent)
	return c
}

// A key rotated out cannot attest a later commit by backdating recordedAt:
// its bundle counts only with an anchor in its feed, and an anchor it
// appends after the rotation is cut off by position, whatever time and
// Lamport clock it claims. Planted as a modified client holding the old key
// would: the DSSE bundle signed in-process, the note added with stock git,
// the anchor op a commit signed by ssh-keygen through git commit-tree -S
// and moved in with update-ref.
func TestProvenanceBackdatedByRotatedKey(t *testing.T) {
	tm := newTeam(t, "provenance.record")
	early := tm.commitFile("src/a.go", "package a\n", "add a")
	// The record and the rotation in the same second, as a fast machine
	// makes them: op times are whole seconds, and the rotation comes after
	// the anchor by position.
	now := []string{"GIT_COVENANT_NOW=" + time.Now().UTC().Format(time.RFC3339)}
	tm.mustCLIEnv(now, "--as", "bob", "provenance", "record", "--", "true")
	honest := tm.verifyProv(early)
	if honest.Status != provenance.StatusOK || honest.Bundles[0].Anchor == "" {
		t.Fatalf("bob's honest bundle: %+v", honest)
	}
	env, err := attest.Parse([]byte(tm.note(early)))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Predicate provenance.Predicate `json:"predicate"`
	}
	if err := json.Unmarshal(env.Payload, &st); err != nil {
		t.Fatal(err)
	}
	before := st.Predicate.Covenant.RecordedAt // bob held the grant then

	tm.mustCLIEnv(now, "--as", "bob", "id", "rotate", "bob")
	olds, _ := filepath.Glob(filepath.Join(tm.home, "identities", "bob", "key.rotated-*"))
	if len(olds) != 1 {
		t.Fatalf("rotated-out key files: %v", olds)
	}
	oldKey := olds[0]
	b, err := os.ReadFile(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.ParseRawPrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	priv := *k.(*ed25519.PrivateKey)
	oldID := identity.KeyID(must(t)(ssh.NewPublicKey(priv.Public())))
	if oldID != tm.bobKey {
		t.Fatalf("rotated-out key %s, bob's first key %s", oldID, tm.bobKey)
	}

	// A later commit, attested with the old key and a backdated recordedAt.
	late := tm.commitFile("src/b.go", "package b\n", "add b")
	lh, _ := gitstore.ParseHash(late)
	pred := &provenance.Predicate{Result: provenance.Passed, Configuration: []provenance.Descriptor{{Name: "true"}},
		Covenant: provenance.Extension{Version: 1, Actor: provenance.Actor{Name: "bob", Key: oldID}, RecordedAt: before,
			Evidence: st.Predicate.Covenant.Evidence}}
	bundle, err := provenance.Sign(tm.store(), lh, pred, oldID, func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil })
	if err != nil {
		t.Fatal(err)
	}
	tm.gitIn(append(bundle, '\n'), "notes", "--ref=covenant", "add", "-F", "-", late)
	wantIgnored(t, tm.verifyProv(late), provenance.KindUnanchored)

	// It anchors the bundle in its old feed after the rotation op, with
	// that op's time and the next Lamport clock: refused by position.
	head := tm.git("rev-parse", gitstore.FeedRef(oldID))
	last := tm.opAt(head)
	op := &oplog.Op{V: oplog.Version, Type: provenance.OpAnchor, Actor: oldID, Seq: last.Seq + 1, Lamport: last.Lamport + 1, Time: last.Time,
		Body: mustJSON(t, provenance.AnchorBody{Commit: late, Bundle: provenance.BundleDigest(bundle), Paths: []string{"src/b.go"}})}
	planted := tm.plantSSH(oldKey, "bob", oldID, head, op)
	if raw := tm.git("cat-file", "commit", planted); !strings.Contains(raw, "BEGIN SSH SIGNATURE") {
		t.Fatalf("planted commit is not SSH-signed:\n%s", raw)
	}
	tm.caught(oplog.KindRotatedKey, planted)
	wantIgnored(t, tm.verifyProv(late), provenance.KindUnanchored)
	// bob's honest, anchored bundle on the early commit still counts.
	if res := tm.verifyProv(early); res.Status != provenance.StatusOK {
		t.Fatalf("honest bundle after the planted one: %+v", res)
	}
}

func must(t *testing.T) func(ssh.PublicKey, error) ssh.PublicKey {
	return func(k ssh.PublicKey, err error) ssh.PublicKey {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Bundles recorded before anchors existed count only on the commits the
// reviewed policy names (unanchored_through and its ancestors), judged at
// their recordedAt; a later commit needs an anchored bundle.
func TestProvenanceUnanchoredThrough(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	old := f.commitFile("src/a.go", "package a\n", "add a")
	f.mustCLI("provenance", "record", "--", "true")
	// The same statement signed again: a bundle no anchor names, as an
	// earlier version wrote them.
	legacy := resignedStatement(t, f, f.note(old), func(map[string]any) {})
	f.setNote(old, legacy)
	wantIgnored(t, f.verifyProv(old), provenance.KindUnanchored)
	later := f.commitFile("src/b.go", "package b\n", "add b")
	f.mustCLI("provenance", "record", "--", "true")
	f.setNote(later, resignedStatement(t, f, f.note(later), func(map[string]any) {}))

	cfg := filepath.Join(f.dir, ".covenant", "config.toml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(b, []byte("\n[provenance]\nunanchored_through = \""+old+"\"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := f.verifyProv(old); res.Status != provenance.StatusOK || !res.Bundles[0].Unanchored {
		t.Fatalf("legacy bundle on a commit the policy names: %+v", res)
	}
	wantIgnored(t, f.verifyProv(later), provenance.KindUnanchored)
	// A branch name is refused: it would move.
	if err := os.WriteFile(cfg, append(b, []byte("\n[provenance]\nunanchored_through = \"main\"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := f.cli("verify", old+"^.."+old, "--require-provenance"); res.code != 8 || !strings.Contains(res.stderr, "unanchored_through") {
		t.Fatalf("unanchored_through = main: %s", res)
	}
}
