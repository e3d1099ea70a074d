package covenant_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/memory"
	"github.com/git-covenant/git-covenant/redact"
	"github.com/git-covenant/git-covenant/tasks"
	"golang.org/x/crypto/ssh"
)

// plantedSecrets are a private key, a cloud access key and a forge token,
// made fresh so no fixture can match them by accident.
func plantedSecrets(t *testing.T) (key, aws, forge string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 36)
	rand.Read(b)
	const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcdefghijklmnopqrstuvwxyz0189"
	for i := range b {
		b[i] = abc[int(b[i])%len(abc)]
	}
	id := make([]byte, 16)
	for i := range id {
		id[i] = abc[int(b[i])%32] // base32: A-Z, 2-7
	}
	return string(pem.EncodeToMemory(blk)), "AKIA" + string(id), "ghp_" + string(b)
}

// allObjects is every object of the repository, as git cat-file prints them.
func (f *fixture) allObjects() []byte {
	f.t.Helper()
	return f.gitRaw(f.dir, nil, "cat-file", "--batch-all-objects", "--batch")
}

// The acceptance of issue 14.4 at the service: secrets planted in a
// handoff (text and a pinned file), a memory, a comment and a check's
// output never reach an object of the repository, and the service says
// what it redacted and where.
func TestSecretsNeverWritten(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	var log bytes.Buffer
	r, err := covenant.Open(context.Background(), covenant.Options{Dir: f.dir, Getenv: f.getenv, Env: f.env(), Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	key, aws, forge := plantedSecrets(t)
	secrets := map[string]string{"private key": strings.Split(key, "\n")[1], "aws": aws, "forge": forge}
	all := "key:\n" + key + "\naws " + aws + "\ntoken " + forge + "\n"

	tk, err := r.CreateTask(ctx, tasks.CreateBody{Title: "rotate the deploy key"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.StartTask(ctx, covenant.StartRequest{Task: tk.ID, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Comment(ctx, tk.ID, "found these: "+all); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RecordCheck(ctx, covenant.CheckRequest{Task: tk.ID, Gate: "tests",
		Check:  tasks.Check{Command: []string{"make", "test"}, ExitCode: 0, OutputDigest: "sha256:" + strings.Repeat("0", 64)},
		Output: []byte("ok\n" + all)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Append(ctx, []covenant.Draft{{Type: memory.OpAdd, Body: memory.AddBody{Tier: "longterm", Text: "deploy with " + all}, Summary: "deploy " + forge}}); err != nil {
		t.Fatal(err)
	}
	// A pinned file with a secret, and one .covenantignore names.
	os.WriteFile(filepath.Join(f.dir, "notes.txt"), []byte("creds "+all), 0o644)
	os.WriteFile(filepath.Join(f.dir, "config.local"), []byte("nothing secret here, but ignored"), 0o644)
	os.WriteFile(filepath.Join(f.dir, covenant.IgnoreFile), []byte("# local files\n*.local\n"), 0o644)
	got, err := r.HandoffTask(ctx, covenant.HandoffRequest{Task: tk.ID, Files: []string{"notes.txt", "config.local"}, Handoff: tasks.Handoff{
		Summary: "rotated; old " + forge, Next: []string{"revoke " + aws}, Questions: []string{"is " + key + " still used?"},
		Validation: tasks.Validation{Status: "passed"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Handoff.Files) != 2 || got.Handoff.Files[0].Blob == "" {
		t.Fatalf("pins: %+v", got.Handoff.Files)
	}
	objects := f.allObjects()
	for name, s := range secrets {
		if bytes.Contains(objects, []byte(s)) {
			t.Errorf("the %s is in an object of the repository", name)
		}
	}
	if bytes.Contains(objects, []byte("nothing secret here, but ignored")) {
		t.Error("the content of an ignored file was stored")
	}
	// What was redacted, and where; never the secret.
	out := log.String()
	for _, want := range []string{
		"redacted: private-key in task.comment body.text line 2",
		"redacted: aws-access-key-id in task.comment body.text",
		"redacted: github-token in task.comment summary line 1",
		"redacted: github-token in task.check artifact output.txt line",
		"redacted: private-key in memory.add body.text",
		"redacted: github-token in task.handoff body.summary",
		"redacted: aws-access-key-id in task.handoff body.next[0]",
		"redacted: private-key in task.handoff body.questions[0]",
		"not stored: github-token in handoff --file notes.txt",
		"not stored: handoff --file config.local is ignored (.covenantignore line 2: *.local)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for name, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log names the %s", name)
		}
	}
	// The feed commits say so in trailers; verification is clean.
	if msg := f.git("log", "-1", "--format=%B", "refs/covenant/feeds/"+f.keyOf("alice")); !strings.Contains(msg, "Covenant-Redacted: github-token in task.handoff body.summary line 1") {
		t.Errorf("handoff commit message:\n%s", msg)
	}
	f.verifyClean()

	// With on_hit = "refuse" the write is refused and nothing moves.
	cfgPath := filepath.Join(f.dir, ".covenant", "config.toml")
	raw, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, append(raw, []byte("\n[secrets]\non_hit = \"refuse\"\n")...), 0o644)
	before := f.covenantRefs()
	_, err = r.Comment(ctx, tk.ID, "again "+forge)
	if !errors.Is(err, redact.ErrSecret) || !errors.Is(err, covenant.ErrBadInput) || strings.Contains(err.Error(), forge) {
		t.Fatalf("refused comment: %v", err)
	}
	if !strings.Contains(err.Error(), "github-token in task.comment body.text line 1") {
		t.Errorf("refusal does not say where: %v", err)
	}
	if _, err := r.HandoffTask(ctx, covenant.HandoffRequest{Task: tk.ID, Files: []string{"config.local"}, Handoff: tasks.Handoff{Summary: "s", Validation: tasks.Validation{Status: "passed"}}}); !errors.Is(err, redact.ErrSecret) {
		t.Errorf("ignored file under refuse: %v", err)
	}
	if after := f.covenantRefs(); after != before {
		t.Error("a refused write moved refs")
	}
	if _, err := r.Comment(ctx, tk.ID, "clean text"); err != nil {
		t.Errorf("clean comment under refuse: %v", err)
	}
}

// ignore check explains each decision.
func TestCheckIgnore(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	r := f.open()
	defer r.Close()
	os.WriteFile(filepath.Join(f.dir, covenant.IgnoreFile), []byte("secrets/\n!.env.example\n"), 0o644)
	for path, want := range map[string]struct {
		ignored bool
		source  string
		line    int
	}{
		"secrets/prod.txt": {true, ".covenantignore", 1},
		".env":             {true, "built-in", 1},
		".env.example":     {false, ".covenantignore", 2},
		"deploy/id_rsa":    {true, "built-in", 7},
		"src/main.go":      {false, "", 0},
	} {
		d, err := r.CheckIgnore(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.Ignored != want.ignored || d.Source != want.source || d.Line != want.line || d.Stored == d.Ignored {
			t.Errorf("%s: %+v, want %+v", path, d, want)
		}
	}
	_, _, forge := plantedSecrets(t)
	d, err := r.CheckIgnore("-", []byte("x\ntoken "+forge))
	if err != nil {
		t.Fatal(err)
	}
	if d.Stored || len(d.Findings) != 1 || d.Findings[0].Rule != "github-token" || d.Findings[0].Line != 2 {
		t.Errorf("content: %+v", d)
	}
}
