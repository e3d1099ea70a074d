package mcpserver_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/git-covenant/git-covenant/internal/testgit"
	"github.com/git-covenant/git-covenant/trust"
)

// nodeProject is the npm project of the real MCP clients (installed by
// make deps), relative to this package.
var nodeProject = filepath.Join("..", "testdata", "node", "mcp")

// needNode skips when Node or the pinned client packages are absent (make
// deps installs both) and returns the project's absolute path.
func needNode(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed (make deps installs it)")
	}
	dir, err := filepath.Abs(nodeProject)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"@modelcontextprotocol/sdk", "@modelcontextprotocol/inspector"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", p, "package.json")); err != nil {
			t.Skipf("%s is not installed in %s (make deps runs npm ci there)", p, nodeProject)
		}
	}
	return dir
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds git-covenant once for the tests that run it as a process.
func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcpserver-test-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath, binErr = testgit.BuildBinary(dir)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// clientOut is what client.mjs prints.
type clientOut struct {
	Server struct{ Name string }
	Steps  []struct {
		Tools []struct {
			Name        string
			Annotations map[string]any
		}
		Bytes      int
		Tool       string
		IsError    bool
		Text       string
		Structured map[string]any
	}
}

// The official TypeScript SDK over stdio against `git-covenant mcp`, as
// a user configures it: lists the tools, claims a task, hands it off, and
// is refused a comment outside its scope, the scope named; adds a working
// memory, is refused a long-term one and a message to a peer it may not
// write to, searches memory and reads its inbox. Then the MCP
// inspector's CLI (through npx) lists the tools and gets the same refusal.
func TestRealClientsOverStdio(t *testing.T) {
	proj := needNode(t)
	bin := binary(t)
	f := newFixture(t)
	f.agentIdentity("bot", trust.ScopeTaskClaim, trust.ScopeTaskHandoff, trust.ScopeMemoryWorking)
	task := f.create("parser")
	env := f.env()
	env[0] = "PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")
	envMap := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		envMap[k] = v
	}
	cfg, _ := json.Marshal(map[string]any{
		"transport": "stdio", "command": bin, "args": []string{"mcp", "--identity", "bot"}, "env": envMap, "cwd": f.dir,
		"steps": []map[string]any{
			{"list": true},
			{"tool": "covenant_write", "args": map[string]any{"action": "claim", "task": task.ID}},
			{"tool": "covenant_write", "args": map[string]any{"action": "handoff", "task": task.ID, "summary": "from the TypeScript SDK", "next": []string{"review"}}},
			{"tool": "covenant_write", "args": map[string]any{"action": "comment", "task": task.ID, "text": "not allowed"}},
			{"tool": "covenant_write", "args": map[string]any{"action": "memory_add", "tier": "working", "text": "the lexer keeps tabs", "task": task.ID}},
			{"tool": "covenant_write", "args": map[string]any{"action": "memory_add", "tier": "longterm", "text": "always tabs"}},
			{"tool": "covenant_read", "args": map[string]any{"action": "memory_search", "query": "lexer"}},
			{"tool": "covenant_write", "args": map[string]any{"action": "send", "to": "alice", "msg_kind": "review", "body": "please look"}},
			{"tool": "covenant_read", "args": map[string]any{"action": "inbox"}},
		},
	})
	cmd := exec.Command("node", "client.mjs", string(cfg))
	cmd.Dir, cmd.Env = proj, env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client.mjs: %v\n%s", err, stderr.String())
	}
	var out clientOut
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if out.Server.Name != "git-covenant" || len(out.Steps) != 9 {
		t.Fatalf("client output: %s", raw)
	}
	var names []string
	for _, tl := range out.Steps[0].Tools {
		names = append(names, tl.Name)
		if _, ok := tl.Annotations["readOnlyHint"]; !ok {
			t.Errorf("%s: no readOnlyHint: %v", tl.Name, tl.Annotations)
		}
	}
	if strings.Join(names, " ") != "covenant_check covenant_read covenant_write" {
		t.Errorf("tools: %v", names)
	}
	if s := out.Steps[1]; s.IsError || !strings.Contains(s.Text, `"holder":"bot"`) {
		t.Errorf("claim: %+v", s)
	}
	if s := out.Steps[2]; s.IsError {
		t.Errorf("handoff: %+v", s)
	}
	if h := f.task(task.ID).Handoff; h == nil || h.Summary != "from the TypeScript SDK" || h.By.Name != "bot" {
		t.Errorf("the handoff did not land as bot's: %+v", h)
	}
	if s := out.Steps[3]; !s.IsError || s.Structured["scope"] != trust.ScopeTaskComment || !strings.Contains(s.Text, trust.ScopeTaskComment) {
		t.Errorf("comment outside scope: %+v", s)
	}
	// Memory and mailbox: a working memory lands as bot's, a long-term one
	// and a message to alice are refused naming the scope; search and the
	// inbox read.
	if s := out.Steps[4]; s.IsError || !strings.Contains(s.Text, `"tier":"working"`) {
		t.Errorf("memory_add working: %+v", s)
	}
	if s := out.Steps[5]; !s.IsError || s.Structured["scope"] != trust.ScopeMemoryLongterm {
		t.Errorf("memory_add longterm outside scope: %+v", s)
	}
	if s := out.Steps[6]; s.IsError || !strings.Contains(s.Text, "the lexer keeps tabs") {
		t.Errorf("memory_search: %+v", s)
	}
	if s := out.Steps[7]; !s.IsError || s.Structured["scope"] != trust.ScopeA2ASendTo("alice") || !strings.Contains(s.Text, "a2a.send.alice") {
		t.Errorf("send outside scope: %+v", s)
	}
	if s := out.Steps[8]; s.IsError || s.Text != "[]" {
		t.Errorf("inbox: %+v", s)
	}

	// The inspector CLI over stdio, starting the server as a user's MCP
	// config would: git -C <repo> covenant mcp.
	inspect := func(args ...string) string {
		t.Helper()
		argv := append([]string{"--no-install", "@modelcontextprotocol/inspector", "--cli", "git", "-C", f.dir, "covenant", "mcp", "--identity", "bot"}, args...)
		cmd := exec.Command("npx", argv...)
		cmd.Dir, cmd.Env = proj, env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("npx %s: %v\n%s%s", strings.Join(argv, " "), err, out, stderr.String())
		}
		return string(out)
	}
	var list struct {
		Tools []struct{ Name string }
	}
	listed := inspect("--method", "tools/list")
	if err := json.Unmarshal([]byte(listed), &list); err != nil || len(list.Tools) != 3 {
		t.Fatalf("inspector tools/list: %v %s", err, listed)
	}
	var refused struct {
		IsError           bool
		StructuredContent map[string]any
	}
	got := inspect("--method", "tools/call", "--tool-name", "covenant_write", "--tool-arg", "action=comment", "--tool-arg", "task="+task.ID, "--tool-arg", "text=hi")
	if err := json.Unmarshal([]byte(got), &refused); err != nil || !refused.IsError || refused.StructuredContent["scope"] != trust.ScopeTaskComment {
		t.Fatalf("inspector comment outside scope: %v %s", err, got)
	}
}
