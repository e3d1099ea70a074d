package covenant_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var errLines = regexp.MustCompile(`^git-covenant: error: [^\n]+\n(git-covenant: hint: [^\n]+\n)?$`)

// TestBadInputWritesNothing: each refused command exits with its status,
// leaves refs/covenant exactly as it was and prints one error line
// (optionally one hint line) on stderr.
func TestBadInputWritesNothing(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	id := strings.TrimSpace(f.mustCLI("task", "create", "existing"))
	notRepo := t.TempDir()
	key := filepath.Join(f.home, "identities", "alice", "key")

	cases := []struct {
		name  string
		code  int
		dir   string
		setup func()
		args  []string
	}{
		{name: "unknown task id", code: 4, args: []string{"task", "start", "tk-000000000000"}},
		{name: "unknown task id (done)", code: 4, args: []string{"task", "done", "tk-ffffffffffff"}},
		{name: "empty title", code: 2, args: []string{"task", "create", ""}},
		{name: "blank title", code: 2, args: []string{"task", "create", "   "}},
		{name: "malformed ttl", code: 2, args: []string{"task", "start", id, "--ttl", "soon"}},
		{name: "ttl out of range", code: 2, args: []string{"task", "start", id, "--ttl", "200h"}},
		{name: "not a git repository", code: 3, dir: notRepo, args: []string{"task", "create", "nowhere"}},
		{name: "unreadable key", code: 7, setup: func() {
			if err := os.Chmod(key, 0o644); err != nil {
				t.Fatal(err)
			}
		}, args: []string{"task", "create", "with a loose key"}},
	}
	for _, tc := range cases {
		before := f.covenantRefs()
		if tc.setup != nil {
			tc.setup()
		}
		dir := f.dir
		if tc.dir != "" {
			dir = tc.dir
		}
		res := runIn(t, dir, f.env(), tc.args...)
		if res.code != tc.code {
			t.Errorf("%s: want exit %d, got %s", tc.name, tc.code, res)
		}
		if !errLines.MatchString(res.stderr) {
			t.Errorf("%s: stderr is not one error line and an optional hint:\n%q", tc.name, res.stderr)
		}
		if res.stdout != "" {
			t.Errorf("%s: stdout %q", tc.name, res.stdout)
		}
		if after := f.covenantRefs(); after != before {
			t.Errorf("%s: refs changed:\n%s\n--\n%s", tc.name, before, after)
		}
	}
	if entries, _ := os.ReadDir(notRepo); len(entries) != 0 {
		t.Errorf("the command wrote into a directory that is not a repository: %v", entries)
	}

	// The same commands with good input do move the refs: the before and
	// after comparison above can fail.
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	before := f.covenantRefs()
	f.mustCLI("task", "start", id, "--ttl", "30m")
	f.mustCLI("task", "create", "with a tight key")
	if f.covenantRefs() == before {
		t.Fatal("good writes did not move refs/covenant")
	}
	f.verifyClean()
}
