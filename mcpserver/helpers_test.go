package mcpserver_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/internal/testgit"
	"github.com/git-covenant/git-covenant/mcpserver"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// fixture is a real repository with its own keystore and git home: alice
// is its trust root; agent identities are registered with the scopes a
// test names.
type fixture struct {
	t       *testing.T
	dir     string
	home    string // GIT_COVENANT_HOME
	gitHome string
	svc     *covenant.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	base := t.TempDir()
	f := &fixture{t: t, dir: testgit.Init(t), home: filepath.Join(base, "kh"), gitHome: filepath.Join(base, "home")}
	os.MkdirAll(f.gitHome, 0o755)
	os.WriteFile(filepath.Join(f.gitHome, ".gitconfig"), nil, 0o644)
	ctx := context.Background()
	svc, err := covenant.Open(ctx, covenant.Options{Dir: f.dir, Getenv: f.getenv, Env: f.env(), As: "alice", IdleRelease: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if _, err := svc.Init(ctx, covenant.InitRequest{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

func (f *fixture) agentIdentity(name string, scopes ...string) {
	f.t.Helper()
	id, err := (&identity.Keystore{Dir: f.home}).New(name, identity.Agent, time.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.svc.RegisterIdentity(context.Background(), name, identity.Agent, identity.FormatPublicKey(id.PublicKey), scopes); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) env(extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + f.gitHome,
		"TMPDIR=" + os.TempDir(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + filepath.Join(f.gitHome, ".gitconfig"),
		"GIT_COVENANT_HOME=" + f.home,
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
	}, extra...)
}

func (f *fixture) getenv(key string) string {
	for _, kv := range f.env() {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

func (f *fixture) create(title string, labels ...string) *tasks.Task {
	f.t.Helper()
	t, err := f.svc.CreateTask(context.Background(), tasks.CreateBody{Title: title, Labels: labels, Priority: "medium"})
	if err != nil {
		f.t.Fatal(err)
	}
	return t
}

func (f *fixture) task(id string) *tasks.Task {
	f.t.Helper()
	t, err := f.svc.Task(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return t
}

// refs returns every ref under refs/covenant/ with its value.
func (f *fixture) refs() string {
	f.t.Helper()
	return testgit.Run(f.t, f.dir, "for-each-ref", "--format=%(refname) %(objectname)", "refs/covenant/")
}

// connect serves mcpserver.New(svc, opts) in-process and returns a Go SDK
// client session to it.
func (f *fixture) connect(opts mcpserver.Options) *mcp.ClientSession {
	f.t.Helper()
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	srv := mcpserver.New(f.svc, opts)
	ss, err := srv.Connect(ctx, st, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { cs.Close() })
	return cs
}

// result is a decoded tool result.
type result struct {
	IsError bool
	Text    string
	Err     struct {
		Error, Kind, Scope string
	}
}

func call(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) result {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("call %s %v: %v", tool, args, err)
	}
	var r result
	r.IsError = res.IsError
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			r.Text += tc.Text
		}
	}
	if res.IsError && res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		json.Unmarshal(b, &r.Err)
	}
	return r
}

// ok calls a tool and fails unless it succeeded; it decodes the JSON text
// into out when not nil.
func ok(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any, out any) string {
	t.Helper()
	r := call(t, cs, tool, args)
	if r.IsError {
		t.Fatalf("%s %v: tool error: %s", tool, args, r.Text)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(r.Text), out); err != nil {
			t.Fatalf("%s: %v in %s", tool, err, r.Text)
		}
	}
	return r.Text
}
