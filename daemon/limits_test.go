package daemon_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/sandbox"
)

// Under sandbox "none" the manifest's limits still hold in the agent from
// its first instruction (the helper sets them before it executes the
// agent): the agent reads them in /proc/self/limits. Its run directory
// (token, temp files) is 0700 and the token file 0600.
func TestLimitsUnderNone(t *testing.T) {
	f := newFixture(t)
	out := filepath.Join(t.TempDir(), "limits.txt")
	const mem = 3 << 30
	agent := &daemon.Agent{Name: "limited", Identity: "bot", Labels: []string{"limited"}, Prompt: "none", Sandbox: "none",
		Env: []string{"PATH"}, OnSuccess: "self_review",
		Limits: sandbox.Limits{CPU: 77 * time.Second, Memory: mem, Processes: 20000, FileSize: 5 << 20, OpenFiles: 123},
		Argv: []string{"sh", f.script("limits.sh", `{ cat /proc/self/limits
v2=$(grep '^0::' /proc/self/cgroup | cut -d: -f3)
v1=$(grep '^[0-9]*:memory:' /proc/self/cgroup | cut -d: -f3)
echo "memory.max: $(cat /sys/fs/cgroup$v2/memory.max /sys/fs/cgroup/memory$v1/memory.limit_in_bytes 2>/dev/null | tr '\n' ' ')"
echo "modes: $(stat -c %a "$(dirname "$GIT_COVENANT_RUN_TOKEN_FILE")" "$TMPDIR" "$GIT_COVENANT_RUN_TOKEN_FILE" | tr '\n' ' ')"
} > `+out)}}
	d, err := daemon.New(daemon.Options{Service: f.svc, Env: f.env(), Log: f.log, Self: binPath(),
		LoadAgents: func() ([]*daemon.Agent, error) { return []*daemon.Agent{agent}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	stop := f.start(d)
	task := f.create("limited", "limited")
	rec := f.waitRuns(task.ID, 1)[0]
	stop()
	if rec.Sandbox != "none" || rec.ExitCode == nil || *rec.ExitCode != 0 {
		t.Fatalf("record: %+v\nlog:\n%s", rec, f.log)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	limit := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+(\S+)\s+(\S+)`).FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("no %q in:\n%s", name, got)
		}
		return m[1] + " " + m[2]
	}
	for name, want := range map[string]string{
		"Max cpu time":   "77 82",
		"Max file size":  "5242880 5242880",
		"Max processes":  "20000 20000",
		"Max open files": "123 123",
	} {
		if g := limit(name); g != want {
			t.Errorf("%s: %s, want %s", name, g, want)
		}
	}
	// The CPU limit is soft; SIGKILL comes 5 s later at the hard one.
	// Memory is the run's cgroup memory.max (v2) or memory.limit_in_bytes
	// (v1) where a memory controller is
	// writable, else the address space of each process.
	cg := regexp.MustCompile(`(?m)^memory.max: (.*)$`).FindStringSubmatch(got)
	if as := limit("Max address space"); as != "3221225472 3221225472" && (cg == nil || !slices.Contains(strings.Fields(cg[1]), "3221225472")) {
		t.Errorf("memory: address space %s and no cgroup limit of 3 GiB:\n%s", as, got)
	}
	if !strings.Contains(got, "modes: 700 700 600 ") {
		t.Errorf("run directory modes:\n%s", got)
	}
}
