package gateway_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/gateway"
	"github.com/git-covenant/git-covenant/trust"
)

// nodeProject is the mcp lane's npm project with the official TypeScript
// SDK and its client script (make deps installs it).
var nodeProject = filepath.Join("..", "testdata", "node", "mcp")

type mcpOut struct {
	Server struct{ Name string }
	Steps  []struct {
		Tools      []struct{ Name string }
		IsError    bool
		Text       string
		Structured map[string]any
	}
}

// runClient runs the TypeScript SDK's streamable-HTTP client against the
// gateway's /mcp with a bearer token.
func runClient(t *testing.T, url, secret string, steps []map[string]any) mcpOut {
	t.Helper()
	dir, _ := filepath.Abs(nodeProject)
	cfg, _ := json.Marshal(map[string]any{"transport": "http", "url": url + "/mcp", "headers": map[string]string{"Authorization": "Bearer " + secret}, "steps": steps})
	cmd := exec.Command("node", "client.mjs", string(cfg))
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client.mjs: %v\n%s", err, stderr.String())
	}
	var out mcpOut
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return out
}

// The official TypeScript SDK over streamable HTTP against the gateway's
// /mcp: with a token carrying task.claim and task.handoff it lists the
// tools, claims a task and hands it off as the token's operator, and is
// refused a comment (the token lacks task.comment) with the scope named; a
// read-only token is offered no write tool.
func TestMCPOverHTTP(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed (make deps installs it)")
	}
	if _, err := os.Stat(filepath.Join(nodeProject, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		t.Skip("the TypeScript SDK is not installed in testdata/node/mcp (make deps runs npm ci there)")
	}
	f := newFixture(t)
	writer := f.token("", "agent-console", trust.ScopeTaskClaim, trust.ScopeTaskHandoff)
	reader := f.token("", "viewer", "read")
	id := strings.TrimSpace(f.cli("task", "create", "over mcp"))
	// The mount needs the Service start opens: it is made once that is.
	var mcp gateway.Mount
	lazy := gateway.MCP(nil, "test")
	lazy.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { mcp.Handler.ServeHTTP(w, r) })
	f.start(gateway.Options{Mounts: []gateway.Mount{lazy}})
	mcp = gateway.MCP(f.svc, "test")

	out := runClient(t, f.url, writer, []map[string]any{
		{"list": true},
		{"tool": "covenant_write", "args": map[string]any{"action": "claim", "task": id}},
		{"tool": "covenant_write", "args": map[string]any{"action": "handoff", "task": id, "summary": "over streamable HTTP", "next": []string{"review"}}},
		{"tool": "covenant_write", "args": map[string]any{"action": "comment", "task": id, "text": "not allowed"}},
	})
	if out.Server.Name != "git-covenant" || len(out.Steps) != 4 {
		t.Fatalf("client output: %+v", out)
	}
	var names []string
	for _, tl := range out.Steps[0].Tools {
		names = append(names, tl.Name)
	}
	if strings.Join(names, " ") != "covenant_read covenant_write" {
		t.Errorf("tools over HTTP: %v (the check tool runs commands: never over HTTP)", names)
	}
	if s := out.Steps[1]; s.IsError || !strings.Contains(s.Text, `"holder":"alice"`) {
		t.Errorf("claim: %+v", s)
	}
	if s := out.Steps[2]; s.IsError {
		t.Errorf("handoff: %+v", s)
	}
	if show := f.cli("task", "show", id, "--json"); !strings.Contains(show, "over streamable HTTP") {
		t.Errorf("the handoff did not land: %s", show)
	}
	if s := out.Steps[3]; !s.IsError || s.Structured["scope"] != trust.ScopeTaskComment || !strings.Contains(s.Text, trust.ScopeTaskComment) {
		t.Errorf("comment outside the token's scope: %+v", s)
	}
	ro := runClient(t, f.url, reader, []map[string]any{{"list": true}})
	for _, tl := range ro.Steps[0].Tools {
		if tl.Name != "covenant_read" {
			t.Errorf("a read-only token is offered %s", tl.Name)
		}
	}
}
