package daemon_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/sandbox"
)

// Under bwrap and landlock (where the host has them; skipped with the
// reason otherwise) the agent writes its worktree and commits on its
// branch, but a write outside the worktree fails, no key file of the
// keystore can be read, nor the daemon's state, and a network connection
// (to a listener on this host's loopback) fails.
func TestSandboxedRun(t *testing.T) {
	for _, b := range []sandbox.Backend{sandbox.Bwrap, sandbox.Landlock} {
		t.Run(string(b), func(t *testing.T) {
			if _, err := sandbox.Resolve(b, true); err != nil {
				t.Skipf("host lacks %s: %v", b, err)
			}
			f := newFixture(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Write([]byte("reached\n"))
					c.Close()
				}
			}()
			outside := filepath.Join(t.TempDir(), "outside.txt")
			cov := mustCov(t, f)
			port := ln.Addr().(*net.TCPAddr).Port
			script := `try() { if eval "$2" >/dev/null 2>&1; then echo "$1: yes"; else echo "$1: no"; fi; }
try write-outside 'echo x > ` + outside + `'
try write-main-worktree 'echo x > ` + filepath.Join(f.dir, "README") + `'
try read-keystore 'cat ` + f.home + `/identities/bot/*'
try list-keystore 'ls ` + f.home + `/identities'
try read-daemon-state 'cat ` + cov + `/daemon.lock'
try network 'exec 3<>/dev/tcp/127.0.0.1/` + itoa(port) + `'
try write-worktree 'echo x > mine.txt'
try write-tmp 'echo x > "$TMPDIR/t"'
`
			agent := &daemon.Agent{Name: "boxed", Identity: "bot", Labels: []string{"boxed"}, Prompt: "none", Sandbox: string(b),
				Env: []string{"PATH"}, OnSuccess: "self_review",
				Argv: []string{"bash", f.script("boxed.sh", "exec 4>&1 >results.txt\n"+script+"exec >&4\ngit add results.txt mine.txt && git commit -q -m results\n")}}
			d, err := daemon.New(daemon.Options{Service: f.svc, Env: f.env(), Log: f.log, Self: binPath(),
				LoadAgents: func() ([]*daemon.Agent, error) { return []*daemon.Agent{agent}, nil }})
			if err != nil {
				t.Fatal(err)
			}
			stop := f.start(d)
			task := f.create("confined", "boxed")
			rec := f.waitRuns(task.ID, 1)[0]
			if rec.Sandbox != string(b) || *rec.ExitCode != 0 || len(rec.Commits) != 1 {
				t.Fatalf("record: sandbox %q exit %d commits %d: %s\nlog:\n%s", rec.Sandbox, *rec.ExitCode, len(rec.Commits), rec.Note, f.log)
			}
			res := f.git("show", "covenant/"+task.ID+":results.txt")
			for _, want := range []string{"write-outside: no", "write-main-worktree: no", "read-keystore: no", "list-keystore: no",
				"read-daemon-state: no", "network: no", "write-worktree: yes", "write-tmp: yes"} {
				if !strings.Contains(res, want) {
					t.Errorf("want %q in:\n%s", want, res)
				}
			}
			if _, err := os.Stat(outside); err == nil {
				t.Error("the agent wrote outside its worktree")
			}
			stop()
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
