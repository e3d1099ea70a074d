package daemon_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/trust"
)

// Inside a run the agent holds a token, never a key: its environment has
// only what the manifest allows and the run's own variables (the token's
// file, never the token); the token works for its own task only and for
// what the identity's capabilities allow (the refusal names the scope),
// `git covenant` inside the run goes through the daemon with it, and it is
// refused once the run has ended.
func TestRunToken(t *testing.T) {
	f := newFixture(t)
	// narrow may claim and hand off, not comment.
	f.agentIdentity("narrow", trust.ScopeTaskClaim, trust.ScopeTaskHandoff)
	dir := t.TempDir()
	agent := &daemon.Agent{Name: "narrow", Identity: "narrow", Labels: []string{"narrow"}, Prompt: "none", Sandbox: "none",
		Env: []string{"PATH", "HOME", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL"},
		Argv: []string{"sh", "-c", `env | sort > ` + dir + `/env
cp "$GIT_COVENANT_RUN_TOKEN_FILE" ` + dir + `/token
git covenant task handoff "$GIT_COVENANT_TASK" --summary "from inside the run" --keep-lease > ` + dir + `/handoff.out 2>&1
echo $? > ` + dir + `/handoff.status
git covenant task comment "$GIT_COVENANT_TASK" "hello" > ` + dir + `/comment.out 2>&1
echo $? > ` + dir + `/comment.status
touch ` + dir + `/ready
while [ ! -e ` + dir + `/go ]; do sleep 0.02; done`}}
	other := f.create("someone else's task", "human")
	stop := f.start(f.daemon(agent))
	task := f.create("scoped work", "narrow")
	waitFor(t, "the agent to be ready", func() bool { _, err := os.Stat(filepath.Join(dir, "ready")); return err == nil })

	// The environment: allowed variables and the run's own, nothing else.
	env, _ := os.ReadFile(filepath.Join(dir, "env"))
	tok, _ := os.ReadFile(filepath.Join(dir, "token"))
	token := strings.TrimSpace(string(tok))
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(env)), "\n") {
		k, _, _ := strings.Cut(line, "=")
		names = append(names, k)
	}
	sort.Strings(names)
	want := []string{"GIT_AUTHOR_EMAIL", "GIT_AUTHOR_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_NAME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM",
		"GIT_COVENANT_EPOCH", "GIT_COVENANT_RUN", "GIT_COVENANT_RUN_TOKEN_FILE", "GIT_COVENANT_SOCKET", "GIT_COVENANT_TASK", "HOME", "PATH", "PWD", "TMPDIR"} // PWD: set by sh itself
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("the agent's environment has\n%s\nwant\n%s", strings.Join(names, " "), strings.Join(want, " "))
	}
	if len(token) != 64 || strings.Contains(string(env), token) {
		t.Fatalf("token %q (len %d) or found in the environment", token, len(token))
	}
	if strings.Contains(string(env), "GIT_COVENANT_HOME") {
		t.Fatal("the keystore's location reached the agent")
	}

	// git covenant inside the run went through the daemon: the handoff is
	// narrow's, signed by its key, which the agent never had; the comment
	// was refused naming the scope.
	if st, _ := os.ReadFile(filepath.Join(dir, "handoff.status")); strings.TrimSpace(string(st)) != "0" {
		out, _ := os.ReadFile(filepath.Join(dir, "handoff.out"))
		t.Fatalf("handoff inside the run: status %s: %s\nlog:\n%s", st, out, f.log)
	}
	if h := f.task(task.ID).Handoff; h == nil || h.Summary != "from inside the run" || h.By.Name != "narrow" || h.Branch != "covenant/"+task.ID {
		t.Fatalf("handoff: %+v", h)
	}
	if st, _ := os.ReadFile(filepath.Join(dir, "comment.status")); strings.TrimSpace(string(st)) != "6" {
		t.Errorf("comment without task.comment: exit %s, want 6", st)
	}
	if out, _ := os.ReadFile(filepath.Join(dir, "comment.out")); !strings.Contains(string(out), "task.comment") {
		t.Errorf("the refusal does not name the scope: %s", out)
	}

	ctx := context.Background()
	socket := daemon.SocketPath(mustCov(t, f), "daemon.sock")
	var who daemon.Whoami
	if err := daemon.Call(ctx, socket, daemon.Request{Op: "whoami", Token: token}, &who); err != nil || who.Task != task.ID || who.Identity != "narrow" || who.Epoch != 1 {
		t.Fatalf("whoami: %+v %v", who, err)
	}
	// Another task with the same token: refused.
	err := daemon.Call(ctx, socket, daemon.Request{Op: "show", Token: token, Task: other.ID}, nil)
	if !errors.Is(err, daemon.ErrWrongTask) {
		t.Fatalf("show of another task: %v", err)
	}
	// An op outside the identity's scope: refused, naming the scope.
	err = daemon.Call(ctx, socket, daemon.Request{Op: "move", Token: token, To: "blocked"}, nil)
	if k, ok := covenant.IsRejection(err); !ok || k != oplog.KindUnauthorized || !strings.Contains(err.Error(), "task.move") {
		t.Fatalf("move without task.move: %v", err)
	}
	if err := daemon.Call(ctx, socket, daemon.Request{Op: "whoami", Token: strings.Repeat("0", 64)}, nil); !errors.Is(err, daemon.ErrBadToken) {
		t.Fatalf("a made-up token: %v", err)
	}

	// The run ends: its token dies.
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	f.waitRuns(task.ID, 1)
	if err := daemon.Call(ctx, socket, daemon.Request{Op: "whoami", Token: token}, nil); !errors.Is(err, daemon.ErrBadToken) {
		t.Fatalf("the token after the run: %v", err)
	}
	runDir := filepath.Dir(findVar(string(env), "GIT_COVENANT_RUN_TOKEN_FILE"))
	waitFor(t, "the run's token directory to go", func() bool { _, err := os.Stat(runDir); return os.IsNotExist(err) })
	stop()
	f.verifyClean()
}

func findVar(env, name string) string {
	for _, line := range strings.Split(env, "\n") {
		if v, ok := strings.CutPrefix(line, name+"="); ok {
			return v
		}
	}
	return ""
}

func mustCov(t *testing.T, f *fixture) string {
	t.Helper()
	d, err := f.svc.CovenantDir()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
