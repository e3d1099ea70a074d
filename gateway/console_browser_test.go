package gateway_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/internal/testgit"
	"github.com/git-covenant/git-covenant/trust"
)

var consoleProject = filepath.Join("..", "testdata", "node", "console")

const botManifest = `version = 1
identity = "bot"
command = ["./agent.sh"]
env = ["PATH", "HOME"]

[match]
labels = ["bot"]

[on]
success = "self_review"
`

const botScript = `#!/bin/sh
echo "the bot ran $GIT_COVENANT_TASK"
`

// The web console in headless Chromium (testdata/node/console/console.mjs
// says what it does), against the console a real daemon serves: the
// daemon is started with the CLI, with a script agent for label bot.
// Screenshots go to $GIT_COVENANT_ARTIFACTS/console (a temporary directory
// if unset), named in the log.
func TestConsoleInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (make deps installs the Debian package)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed (make deps installs it)")
	}
	if _, err := os.Stat(filepath.Join(consoleProject, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Skip("playwright-core is not installed in testdata/node/console (make deps runs npm ci there)")
	}
	f := newFixture(t)
	f.cli("id", "new", "bot", "--role", "agent")
	key := strings.TrimSpace(f.cli("id", "show", "bot"))
	f.cli("id", "register", "bot", "--role", "agent", "--key", key,
		"--grant", trust.ScopeTaskClaim, "--grant", trust.ScopeTaskMove, "--grant", trust.ScopeTaskHandoff, "--grant", trust.ScopeTaskComment)
	os.MkdirAll(filepath.Join(f.dir, ".covenant", "agents"), 0o755)
	os.WriteFile(filepath.Join(f.dir, ".covenant", "agents", "bot.toml"), []byte(botManifest), 0o644)
	os.WriteFile(filepath.Join(f.dir, "agent.sh"), []byte(botScript), 0o755)
	testgit.Run(t, f.dir, "add", ".covenant/agents/bot.toml", "agent.sh")
	testgit.Run(t, f.dir, "commit", "-q", "-m", "add the bot")
	full := f.token("", "console", trust.ScopeTaskCreate, trust.ScopeTaskComment, trust.ScopeTaskMove, trust.ScopeTaskClaim,
		trust.ScopeReviewPrefix+"code", trust.ScopeIdentityAdmin)
	read := f.token("", "viewer", "read")

	f.cli("daemon", "start")
	t.Cleanup(func() { f.try("daemon", "stop") })
	url := ""
	waitFor(t, "daemon.http", func() bool {
		b, err := os.ReadFile(filepath.Join(f.dir, ".git", "covenant", "daemon.http"))
		url = strings.TrimSpace(string(b))
		return err == nil && url != ""
	})

	artifacts := os.Getenv("GIT_COVENANT_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	artifacts = filepath.Join(artifacts, "console")
	abs, _ := filepath.Abs(filepath.Join(consoleProject, "console.mjs"))
	cmd := exec.Command("node", abs)
	cmd.Dir = consoleProject
	cmd.Env = append(f.env(), "GW="+url, "TOKEN="+full, "READ_TOKEN="+read, "BIN="+binPath, "REPO="+f.dir,
		"ARTIFACTS="+artifacts, "CHROMIUM="+chromium)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	t.Logf("screenshots in %s", artifacts)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(f.dir, ".git", "covenant", "daemon.log"))
		t.Fatalf("node console.mjs: %v\n%s\ndaemon log:\n%s", err, stderr.String(), log)
	}
	var out struct {
		Task, Forged, Ref, Old string
		CrossSiteStatus        int `json:"cross_site_status"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	// Take the forged commit back out, so the CLI reads the feeds again.
	testgit.Run(t, f.dir, "update-ref", out.Ref, out.Old, out.Forged)

	var task struct {
		State string
		Gates map[string]struct {
			Satisfied bool
			By        struct{ Name string }
		}
		Comments []struct {
			Text string
			By   struct{ Name string }
		}
	}
	if err := json.Unmarshal([]byte(f.cli("task", "show", out.Task, "--json")), &task); err != nil {
		t.Fatal(err)
	}
	if g := task.Gates["review.code"]; !g.Satisfied || g.By.Name != "alice" {
		t.Errorf("the gate approved in the console: %+v (want satisfied, by alice)", g)
	}
	if len(task.Comments) == 0 || task.Comments[len(task.Comments)-1].Text != "commented from the console" || task.Comments[len(task.Comments)-1].By.Name != "alice" {
		t.Errorf("the console's comment: %+v", task.Comments)
	}
	list := f.cli("task", "list")
	if strings.Contains(list, "cross-site") || strings.Contains(list, "Not allowed") {
		t.Errorf("a refused write landed:\n%s", list)
	}
	if !strings.Contains(list, "Created in the console") {
		t.Errorf("the console's create did not land:\n%s", list)
	}
	f.cli("verify")
}
