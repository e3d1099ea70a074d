package covenant_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/attest"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/provenance"
	"golang.org/x/crypto/ssh"
)

// commitFile writes a file and commits it, returning the commit id.
func (f *fixture) commitFile(name, content, msg string) string {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(f.dir, name)), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
	f.git("add", name)
	f.git("commit", "-q", "-m", msg)
	return f.git("rev-parse", "HEAD")
}

// verifyProv checks one commit with provenance required.
func (f *fixture) verifyProv(commit string) provenance.CommitResult {
	f.t.Helper()
	h, err := gitstore.ParseHash(commit)
	if err != nil {
		f.t.Fatal(err)
	}
	rep, err := f.open().VerifyProvenance(context.Background(), covenant.ProvenanceOptions{Commits: []string{h.String()}, Require: true})
	if err != nil {
		f.t.Fatal(err)
	}
	return rep.Commits[0]
}

func (f *fixture) note(commit string) string {
	f.t.Helper()
	return f.git("notes", "--ref=covenant", "show", commit)
}

func (f *fixture) setNote(commit, content string) {
	f.t.Helper()
	f.gitIn([]byte(content), "notes", "--ref=covenant", "add", "-f", "-F", "-", commit)
}

// alicePrivateKey parses alice's private key from the keystore.
func (f *fixture) alicePrivateKey() ed25519.PrivateKey { return f.privateKey("alice") }

func (f *fixture) privateKey(name string) ed25519.PrivateKey {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.home, "identities", name, "key"))
	if err != nil {
		f.t.Fatal(err)
	}
	k, err := ssh.ParseRawPrivateKey(b)
	if err != nil {
		f.t.Fatal(err)
	}
	if p, ok := k.(*ed25519.PrivateKey); ok {
		return *p
	}
	return k.(ed25519.PrivateKey)
}

// anchorForged appends a provenance.anchor op for bundle on commit to the
// feed of name's key, signed by it, as a modified client holding that key
// would: what the verifier then checks is the bundle, not its anchoring.
func (f *fixture) anchorForged(name, bundle, commit string) string {
	f.t.Helper()
	st := f.store()
	h, err := gitstore.ParseHash(commit)
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := st.ReadCommit(h)
	if err != nil {
		f.t.Fatal(err)
	}
	changes, err := provenance.Changes(st, c)
	if err != nil {
		f.t.Fatal(err)
	}
	body := provenance.AnchorBody{Commit: commit, Bundle: provenance.BundleDigest([]byte(bundle)), Paths: provenance.ChangedPaths(changes)}
	return f.forge(name, f.signer(name), mkOp(f.t, provenance.OpAnchor, "", body), time.Now().UTC().Truncate(time.Second))
}

func wantProblem(t *testing.T, res provenance.CommitResult, status, kind string) {
	t.Helper()
	if res.Status != status || len(res.Problems) == 0 || res.Problems[0].Kind != kind {
		t.Fatalf("got status %s problems %+v, want %s with %s", res.Status, res.Problems, status, kind)
	}
}

// wantIgnored: the commit's only note line is no evidence (kind), so the
// commit is as if unattested: missing when required.
func wantIgnored(t *testing.T, res provenance.CommitResult, kind string) {
	t.Helper()
	if res.Status != provenance.StatusMissing || len(res.Problems) == 0 || res.Problems[0].Kind != provenance.KindMissing ||
		len(res.Bundles) == 0 || !res.Bundles[0].Ignored || res.Bundles[0].Problem.Kind != kind {
		t.Fatalf("got status %s problems %+v bundles %+v, want missing with an ignored %s line", res.Status, res.Problems, res.Bundles, kind)
	}
}

func TestProvenanceRecordVerifyAndNotes(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	c := f.commitFile("src/a.go", "package a\n", "add a")
	if res := f.verifyProv(c); res.Status != provenance.StatusMissing {
		t.Fatalf("unattested commit: %+v", res)
	}
	out := f.mustCLI("provenance", "record", "--", "sh", "-c", "test -f src/a.go && echo ok")
	if !strings.HasPrefix(out, "PASSED "+c[:12]) {
		t.Fatalf("record: %q", out)
	}
	res := f.verifyProv(c)
	if res.Status != provenance.StatusOK || res.Rule != "note" || res.Bundles[0].Signer != "alice" {
		t.Fatalf("attested commit: %+v", res)
	}
	// Stock git shows it; the user's tree has no worktree left behind.
	if log := f.git("log", "--notes=covenant", "-1"); !strings.Contains(log, attest.BundleMediaType) {
		t.Fatalf("git log --notes=covenant: %s", log)
	}
	if wts := f.git("worktree", "list"); strings.Count(wts, "\n") != 0 {
		t.Fatalf("worktree left behind:\n%s", wts)
	}
	// A second bundle is appended, not replacing the first.
	f.mustCLI("provenance", "record", "--", "true")
	if n := len(f.verifyProv(c).Bundles); n != 2 {
		t.Fatalf("%d bundles after a second record, want 2", n)
	}
}

func TestProvenanceFailedIsFailedNotMissing(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	c := f.commitFile("a.txt", "a\n", "add a")
	res := f.cli("provenance", "record", "--", "sh", "-c", "echo boom; exit 3")
	if res.code != 10 || !strings.HasPrefix(res.stdout, "FAILED ") {
		t.Fatalf("record of a failing command: %s", res)
	}
	wantProblem(t, f.verifyProv(c), provenance.StatusFailed, provenance.KindFailed)
}

func TestProvenanceTamper(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	f.mustCLI("id", "new", "bob", "--role", "agent")
	bobKey := strings.TrimSpace(f.mustCLI("id", "show", "bob"))
	f.mustCLI("id", "register", "bob", "--role", "agent", "--key", bobKey, "--grant", "task.create")
	c := f.commitFile("a.txt", "a\n", "add a")
	other := f.commitFile("b.txt", "b\n", "add b")
	f.mustCLI("provenance", "record", c, "--", "true")
	good := f.note(c)
	if res := f.verifyProv(c); res.Status != provenance.StatusOK {
		t.Fatalf("untampered: %+v", res)
	}
	edit := func(fn func(b map[string]any)) string {
		var b map[string]any
		if err := json.Unmarshal([]byte(good), &b); err != nil {
			t.Fatal(err)
		}
		fn(b)
		out, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	env := func(b map[string]any) map[string]any { return b["dsseEnvelope"].(map[string]any) }
	t.Run("payload", func(t *testing.T) {
		f.setNote(c, edit(func(b map[string]any) {
			p, _ := base64.StdEncoding.DecodeString(env(b)["payload"].(string))
			p = bytes.Replace(p, []byte(`"PASSED"`), []byte(`"FAILED"`), 1)
			env(b)["payload"] = base64.StdEncoding.EncodeToString(p)
		}))
		wantIgnored(t, f.verifyProv(c), provenance.KindBadSignature)
	})
	t.Run("signature", func(t *testing.T) {
		f.setNote(c, edit(func(b map[string]any) {
			sig := env(b)["signatures"].([]any)[0].(map[string]any)
			raw, _ := base64.StdEncoding.DecodeString(sig["sig"].(string))
			raw[0] ^= 1
			sig["sig"] = base64.StdEncoding.EncodeToString(raw)
		}))
		wantIgnored(t, f.verifyProv(c), provenance.KindBadSignature)
	})
	t.Run("signer-unknown", func(t *testing.T) {
		f.setNote(c, edit(func(b map[string]any) {
			b["verificationMaterial"].(map[string]any)["publicKey"].(map[string]any)["hint"] = "00000000000000000000000000000000"
		}))
		wantIgnored(t, f.verifyProv(c), provenance.KindUnknownSigner)
	})
	t.Run("signer-swapped", func(t *testing.T) {
		id, err := f.keys().Get("bob")
		if err != nil {
			t.Fatal(err)
		}
		f.setNote(c, edit(func(b map[string]any) {
			b["verificationMaterial"].(map[string]any)["publicKey"].(map[string]any)["hint"] = id.KeyID()
		}))
		wantIgnored(t, f.verifyProv(c), provenance.KindBadSignature)
	})
	t.Run("moved-to-another-commit", func(t *testing.T) {
		f.setNote(other, good)
		wantIgnored(t, f.verifyProv(other), provenance.KindSubject)
		f.git("notes", "--ref=covenant", "remove", other)
	})
	t.Run("subject-digest", func(t *testing.T) {
		// Validly signed by alice, but a blob digest that is not the real one.
		payload := resignedStatement(t, f, good, func(st map[string]any) {
			for _, s := range st["subject"].([]any) {
				d := s.(map[string]any)["digest"].(map[string]any)
				if _, ok := d["sha256"]; ok {
					d["sha256"] = strings.Repeat("0", 64)
				}
			}
		})
		f.setNote(c, payload)
		wantProblem(t, f.verifyProv(c), provenance.StatusInvalid, provenance.KindSubject)
	})
	t.Run("tree-digest", func(t *testing.T) {
		payload := resignedStatement(t, f, good, func(st map[string]any) {
			for _, s := range st["subject"].([]any) {
				d := s.(map[string]any)["digest"].(map[string]any)
				if _, ok := d["gitTree"]; ok {
					d["gitTree"] = strings.Repeat("1", 40)
				}
			}
		})
		f.setNote(c, payload)
		wantProblem(t, f.verifyProv(c), provenance.StatusInvalid, provenance.KindSubject)
	})
	bob, err := f.keys().Get("bob")
	if err != nil {
		t.Fatal(err)
	}
	ext := func(st map[string]any) map[string]any {
		return st["predicate"].(map[string]any)["covenant"].(map[string]any)
	}
	t.Run("signer-mismatch", func(t *testing.T) {
		f.setNote(c, resignedStatement(t, f, good, func(st map[string]any) {
			ext(st)["actor"] = map[string]any{"name": "bob", "key": bob.KeyID()}
		}))
		wantProblem(t, f.verifyProv(c), provenance.StatusInvalid, provenance.KindSignerMismatch)
	})
	t.Run("signed-by-unauthorized", func(t *testing.T) {
		payload := resignedStatement(t, f, good, func(st map[string]any) {
			ext(st)["actor"] = map[string]any{"name": "bob", "key": bob.KeyID()}
		})
		e, _ := attest.Parse([]byte(payload))
		out, err := attest.Sign(e.Payload, f.privateKey("bob"), bob.KeyID())
		if err != nil {
			t.Fatal(err)
		}
		f.setNote(c, string(out))
		// Unanchored: ignored. Anchored by a forged op: the fold refuses
		// the anchor (bob lacks the scope at its position), and the
		// bundle is still no evidence.
		wantIgnored(t, f.verifyProv(c), provenance.KindUnanchored)
		op := f.anchorForged("bob", string(out), c)
		f.caught(oplog.KindUnauthorized, op)
		wantIgnored(t, f.verifyProv(c), provenance.KindUnanchored)
	})
	t.Run("unknown-task", func(t *testing.T) {
		f.setNote(c, resignedStatement(t, f, good, func(st map[string]any) {
			ext(st)["task"] = "tk-000000000000"
			ext(st)["leaseEpoch"] = 1
		}))
		f.anchorForged("alice", f.note(c), c)
		wantProblem(t, f.verifyProv(c), provenance.StatusInvalid, provenance.KindBadLease)
	})
	t.Run("result-exit-mismatch", func(t *testing.T) {
		f.setNote(c, resignedStatement(t, f, good, func(st map[string]any) {
			ext(st)["evidence"].(map[string]any)["exitCode"] = 1
		}))
		wantProblem(t, f.verifyProv(c), provenance.StatusInvalid, provenance.KindBadBundle)
	})
	t.Run("unauthorized-signer", func(t *testing.T) {
		// bob may create tasks but not record provenance.
		res := f.cli("--as", "bob", "provenance", "record", c, "--", "true")
		if res.code != 6 || !strings.Contains(res.stderr, "lacks provenance.record") {
			t.Fatalf("bob records: %s", res)
		}
		f.setNote(c, good)
		if f.note(c) != good {
			t.Fatal("refused record wrote a note")
		}
	})
	f.setNote(c, good)
	if res := f.verifyProv(c); res.Status != provenance.StatusOK {
		t.Fatalf("restored: %+v", res)
	}
}

// resignedStatement edits the statement inside a bundle and signs it again
// with alice's key.
func resignedStatement(t *testing.T, f *fixture, bundle string, fn func(map[string]any)) string {
	t.Helper()
	env, err := attest.Parse([]byte(bundle))
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(env.Payload, &st); err != nil {
		t.Fatal(err)
	}
	fn(st)
	payload, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	out, err := attest.Sign(payload, f.alicePrivateKey(), env.KeyHint)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestProvenanceSquashAndRebaseRules(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	base := f.git("rev-parse", "HEAD")
	f.git("checkout", "-q", "-b", "feature")
	f.commitFile("f.txt", "one\n", "feature 1")
	f.mustCLI("provenance", "record", "--", "true")
	f.commitFile("f.txt", "two\n", "feature 2")
	f.mustCLI("provenance", "record", "--", "true")
	f.git("checkout", "-q", "main")
	f.git("merge", "-q", "--squash", "feature")
	f.git("commit", "-q", "-m", "squashed feature")
	squash := f.git("rev-parse", "HEAD")
	res := f.verifyProv(squash)
	if res.Status != provenance.StatusOK || res.Rule != "tree" {
		t.Fatalf("squash merge: %+v", res)
	}
	unrelated := f.commitFile("g.txt", "g\n", "unrelated")
	wantProblem(t, f.verifyProv(unrelated), provenance.StatusMissing, provenance.KindMissing)

	// Rebase of the last feature commit onto a main with other work: the
	// tree differs, so only the blob rule (policy blob_rule) covers it.
	f.git("checkout", "-q", "-b", "rebased", base)
	f.commitFile("h.txt", "h\n", "other work")
	f.mustCLI("provenance", "record", "--", "true")
	f.git("cherry-pick", "feature~1")
	picked := f.git("rev-parse", "HEAD")
	if res := f.verifyProv(picked); res.Status != provenance.StatusMissing {
		t.Fatalf("cherry-pick without blob rule: %+v", res)
	}
	// The pick adds f.txt with the blob feature 1 attested.
	cfg := filepath.Join(f.dir, ".covenant", "config.toml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(b, []byte("\n[provenance]\nblob_rule = true\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	res = f.verifyProv(picked)
	if res.Status != provenance.StatusOK || res.Rule != "blob" {
		t.Fatalf("cherry-pick with blob rule: %+v", res)
	}
	if res := f.verifyProv(unrelated); res.Status != provenance.StatusMissing {
		t.Fatalf("unrelated commit with blob rule: %+v", res)
	}
}

func TestProvenanceExportPEMVerifies(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	c := f.commitFile("a.txt", "a\n", "add a")
	f.mustCLI("provenance", "record", "--", "true")
	out := t.TempDir()
	f.mustCLI("provenance", "export", "HEAD", "--out", out)
	b, err := os.ReadFile(filepath.Join(out, c+"-1.sigstore.json"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := attest.Parse(bytes.TrimSpace(b))
	if err != nil {
		t.Fatal(err)
	}
	p, err := os.ReadFile(filepath.Join(out, env.KeyHint+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(p)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		t.Fatalf("not a PKIX PEM: %s", p)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Verify(pub.(ed25519.PublicKey)); err != nil {
		t.Fatalf("exported bundle does not verify under the exported key: %v", err)
	}
	st, err := attest.ParseStatement(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if st.Subjects[0].Digest["gitCommit"] != c || st.PredicateType != provenance.PredicateType {
		t.Fatalf("statement: %+v", st)
	}
}

func TestProvenancePolicyCommandsAndPaths(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	cfg := filepath.Join(f.dir, ".covenant", "config.toml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(b, []byte("\n[provenance]\nrequire = [\"refs/heads/*\"]\npaths = [\"src/**\"]\ncommands = [\"make test\"]\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	docs := f.commitFile("docs/x.md", "x\n", "docs only")
	code := f.commitFile("src/x.go", "package x\n", "code")
	f.mustCLI("provenance", "record", "--", "true")
	check := func(commit, ref string) provenance.CommitResult {
		h, _ := gitstore.ParseHash(commit)
		rep, err := f.open().VerifyProvenance(context.Background(), covenant.ProvenanceOptions{Commits: []string{h.String()}, Ref: ref})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Commits[0]
	}
	if res := check(docs, "refs/heads/main"); res.Status != provenance.StatusUnattested {
		t.Fatalf("docs-only commit outside paths: %+v", res)
	}
	wantProblem(t, check(code, "refs/heads/main"), provenance.StatusMissing, provenance.KindCommand)
	if res := check(code, "refs/tags/v1"); res.Status != provenance.StatusMissing || res.Problems[0].Kind != provenance.KindCommand {
		// a bundle with a command the policy does not count never passes
		t.Fatalf("other ref: %+v", res)
	}
	if res := check(f.commitFile("src/y.go", "package x\n", "more code"), "refs/tags/v1"); res.Status != provenance.StatusUnattested {
		t.Fatalf("ref outside require: %+v", res)
	}
}

// The tree rule needs authority: a docs-only signer's attestation of a
// tree does not cover a commit that reaches that tree by changing src/.
// Submodule bumps, deletions and mode changes count as changes.
func TestProvenanceRulesNeedAuthority(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	f.mustCLI("id", "new", "bob", "--role", "agent")
	bobKey := strings.TrimSpace(f.mustCLI("id", "show", "bob"))
	f.mustCLI("id", "register", "bob", "--role", "agent", "--key", bobKey)
	f.mustCLI("cap", "grant", "bob", "provenance.record", "--path", "docs/**")
	base := f.git("rev-parse", "HEAD")
	// Bob's commit only deletes docs/x.md, reaching base + src/evil.go.
	f.commitFile("src/evil.go", "package evil\n", "evil and docs")
	f.commitFile("docs/x.md", "x\n", "docs")
	f.git("rm", "-q", "docs/x.md")
	f.git("commit", "-q", "-m", "docs: drop x")
	bobs := f.git("rev-parse", "HEAD")
	f.mustCLI("--as", "bob", "provenance", "record", "--", "true")
	if res := f.verifyProv(bobs); res.Status != provenance.StatusOK || res.Rule != "note" {
		t.Fatalf("bob's docs-only commit: %+v", res)
	}
	// The same tree reached from base by adding src/evil.go.
	f.git("checkout", "-q", "-b", "laundered", base)
	evil := f.commitFile("src/evil.go", "package evil\n", "src: evil")
	if f.git("rev-parse", evil+"^{tree}") != f.git("rev-parse", bobs+"^{tree}") {
		t.Fatal("the trees differ; the test plants nothing")
	}
	res := f.verifyProv(evil)
	wantProblem(t, res, provenance.StatusMissing, provenance.KindMissing)
	if !strings.Contains(res.Problems[0].Reason, "may not record src/evil.go") {
		t.Fatalf("reason: %s", res.Problems[0].Reason)
	}
	// Alice (a root) attests the tree: now the tree rule covers it.
	f.git("checkout", "-q", "main")
	f.mustCLI("provenance", "record", "--", "true")
	if res := f.verifyProv(evil); res.Status != provenance.StatusOK || res.Rule != "tree" {
		t.Fatalf("tree attested by a root: %+v", res)
	}

	// A submodule bump under paths = ["src/**"] needs provenance.
	f.git("checkout", "-q", "laundered")
	cfg := filepath.Join(f.dir, ".covenant", "config.toml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(b, []byte("\n[provenance]\npaths = [\"src/**\"]\nblob_rule = true\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	f.git("update-index", "--add", "--cacheinfo", "160000,"+base+",src/lib")
	f.git("commit", "-q", "-m", "bump src/lib")
	bump := f.git("rev-parse", "HEAD")
	res = f.verifyProv(bump)
	if res.Status != provenance.StatusMissing || len(res.Files) != 1 || res.Files[0] != "src/lib" {
		t.Fatalf("gitlink bump: %+v", res)
	}
	// A mode change of an attested blob is not covered by the blob rule.
	f.mustCLI("provenance", "record", evil, "--", "true")
	f.git("update-index", "--chmod=+x", "src/evil.go")
	f.git("commit", "-q", "-m", "make evil executable")
	if res := f.verifyProv(f.git("rev-parse", "HEAD")); res.Status != provenance.StatusMissing {
		t.Fatalf("mode-only change under the blob rule: %+v", res)
	}
}

// A lease belongs to an identity, not a key: bob claims a task, rotates his
// key mid-lease and records provenance under the lease with the new key;
// the bundle counts. A bundle by another identity naming bob's lease epoch
// does not.
func TestProvenanceLeaseSpansRotation(t *testing.T) {
	tm := newTeam(t, "task.claim", "provenance.record")
	tm.mustCLI("id", "new", "carol", "--role", "agent")
	tm.mustCLI("id", "register", "carol", "--role", "agent", "--key", filepath.Join(tm.home, "identities", "carol", "key.pub"), "--grant", "provenance.record")
	id := strings.TrimSpace(tm.mustCLI("task", "create", "long job"))
	tm.mustCLI("--as", "bob", "task", "start", id)
	c := tm.commitFile("src/a.go", "package a\n", "add a")
	tm.mustCLI("--as", "bob", "id", "rotate", "bob")
	tm.mustCLI("--as", "bob", "provenance", "record", "--task", id, "--", "true")
	res := tm.verifyProv(c)
	if res.Status != provenance.StatusOK || len(res.Bundles) != 1 || res.Bundles[0].Epoch != 1 || res.Bundles[0].Key == tm.bobKey {
		t.Fatalf("bob's bundle under his lease, new key: %+v", res)
	}
	// carol signs the same statement as hers, naming bob's lease epoch.
	env, err := attest.Parse([]byte(tm.note(c)))
	if err != nil {
		t.Fatal(err)
	}
	carol, err := tm.keys().Get("carol")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(env.Payload, &st); err != nil {
		t.Fatal(err)
	}
	st["predicate"].(map[string]any)["covenant"].(map[string]any)["actor"] = map[string]any{"name": "carol", "key": carol.KeyID()}
	payload, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := attest.Sign(payload, tm.privateKey("carol"), carol.KeyID())
	if err != nil {
		t.Fatal(err)
	}
	tm.setNote(c, string(forged))
	tm.anchorForged("carol", string(forged), c)
	wantProblem(t, tm.verifyProv(c), provenance.StatusInvalid, provenance.KindBadLease)
}
