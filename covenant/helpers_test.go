package covenant_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/internal/testgit"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
)

// binPath is the git-covenant binary TestMain builds once for the tests
// that need separate processes.
var binPath string

// writeLoopEnv, when set to a repository path, turns the test binary into a
// writer that creates tasks through the covenant API until it is killed
// (see TestCrashSafety).
const writeLoopEnv = "GIT_COVENANT_TEST_WRITE_LOOP"

func TestMain(m *testing.M) {
	if dir := os.Getenv(writeLoopEnv); dir != "" {
		os.Exit(writeLoop(dir))
	}
	tmp, err := os.MkdirTemp("", "covenant-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if binPath, err = testgit.BuildBinary(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// writeLoop creates tasks in dir as fast as it can, in-process, so that a
// SIGKILL lands in the middle of a write more often than with one process
// per op. It only returns on error.
func writeLoop(dir string) int {
	r, err := covenant.Open(context.Background(), covenant.Options{Dir: dir, Getenv: os.Getenv, Env: os.Environ()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "write loop:", err)
		return 1
	}
	for i := 0; ; i++ {
		t, err := r.CreateTask(context.Background(), tasks.CreateBody{Title: "loop " + strconv.Itoa(i)})
		if err != nil {
			fmt.Fprintln(os.Stderr, "write loop:", err)
			return 1
		}
		if i%3 == 0 {
			if _, err := r.StartTask(context.Background(), covenant.StartRequest{Task: t.ID, TTL: time.Hour}); err != nil {
				fmt.Fprintln(os.Stderr, "write loop:", err)
				return 1
			}
		}
	}
}

// fixture is a real git repository with its own keystore and git home, so
// nothing reads the user's configuration.
type fixture struct {
	t       *testing.T
	dir     string // work tree
	home    string // GIT_COVENANT_HOME
	gitHome string // HOME for git and git-covenant, with an empty global config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	base := t.TempDir()
	f := &fixture{t: t, dir: testgit.Init(t), home: filepath.Join(base, "covenant-home"), gitHome: filepath.Join(base, "home")}
	if err := os.MkdirAll(f.gitHome, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.gitHome, ".gitconfig"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// initAlice makes the repository a covenant repository with identity alice
// as trust root. It goes through the binary because Init commits with the
// git binary in the process environment.
func (f *fixture) initAlice() {
	f.t.Helper()
	f.mustCLI("init", "--name", "alice")
}

// env is the explicit environment of every process the tests start.
func (f *fixture) env(extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + f.gitHome,
		"TMPDIR=" + os.TempDir(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + filepath.Join(f.gitHome, ".gitconfig"),
		"GIT_COVENANT_HOME=" + f.home,
	}
	return append(env, extra...)
}

func (f *fixture) getenv(key string) string {
	for _, kv := range f.env() {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// store opens the repository at the git level, for plumbing checks.
func (f *fixture) store() *gitstore.Store {
	f.t.Helper()
	st, err := gitstore.Open(f.dir)
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

// mustStore opens a repository at the git level.
func mustStore(t testing.TB, dir string) *gitstore.Store {
	t.Helper()
	st, err := gitstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// keys is the fixture's keystore.
func (f *fixture) keys() *identity.Keystore { return &identity.Keystore{Dir: f.home} }

// open opens the repository through the service layer.
func (f *fixture) open() *covenant.Service {
	f.t.Helper()
	r, err := covenant.Open(context.Background(), covenant.Options{Dir: f.dir, Getenv: f.getenv, Env: f.env()})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runIn runs the git-covenant binary in dir with env.
func runIn(t testing.TB, dir string, env []string, args ...string) result {
	t.Helper()
	var res result
	res.stdout, res.stderr, res.code = testgit.Exec(dir, env, binPath, args...)
	return res
}

func (f *fixture) cli(args ...string) result {
	f.t.Helper()
	return runIn(f.t, f.dir, f.env(), args...)
}

func (f *fixture) mustCLI(args ...string) string {
	f.t.Helper()
	res := f.cli(args...)
	if res.code != 0 {
		f.t.Fatalf("git-covenant %s: %s", strings.Join(args, " "), res)
	}
	return res.stdout
}

// gitRaw runs git in dir with the fixture's environment and returns its
// exact stdout (not trimmed: object contents must stay byte for byte).
func (f *fixture) gitRaw(dir string, stdin []byte, args ...string) []byte {
	f.t.Helper()
	return f.gitEnv(dir, nil, stdin, args...)
}

// gitEnv is gitRaw with extra environment variables.
func (f *fixture) gitEnv(dir string, extra []string, stdin []byte, args ...string) []byte {
	f.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(f.env("GIT_AUTHOR_NAME=Mallory", "GIT_AUTHOR_EMAIL=mallory@example.com",
		"GIT_COMMITTER_NAME=Mallory", "GIT_COMMITTER_EMAIL=mallory@example.com"), extra...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		f.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func (f *fixture) git(args ...string) string {
	f.t.Helper()
	return strings.TrimSpace(string(f.gitRaw(f.dir, nil, args...)))
}

func (f *fixture) gitIn(stdin []byte, args ...string) string {
	f.t.Helper()
	return strings.TrimSpace(string(f.gitRaw(f.dir, stdin, args...)))
}

// covenantRefs is `git for-each-ref refs/covenant`, for before/after checks.
func (f *fixture) covenantRefs() string {
	f.t.Helper()
	return f.git("for-each-ref", "refs/covenant/")
}

// feeds returns key id to feed ref for every feed.
func (f *fixture) feeds() map[string]string {
	f.t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(f.git("for-each-ref", "--format=%(refname)", gitstore.FeedPrefix), "\n") {
		if line != "" {
			out[strings.TrimPrefix(line, gitstore.FeedPrefix)] = line
		}
	}
	return out
}

// feedCommits lists a feed's commits, oldest first.
func (f *fixture) feedCommits(ref string) []string {
	f.t.Helper()
	return strings.Fields(f.git("rev-list", "--reverse", "--first-parent", ref))
}

// opAt decodes the op of a feed commit.
func (f *fixture) opAt(commit string) *oplog.Op {
	f.t.Helper()
	op, err := oplog.Decode(f.gitRaw(f.dir, nil, "cat-file", "blob", commit+":"+gitstore.OpFile))
	if err != nil {
		f.t.Fatalf("op of %s: %v", commit, err)
	}
	return op
}

// fsck runs git fsck --strict and fails the test on any complaint.
func (f *fixture) fsck() {
	f.t.Helper()
	cmd := exec.Command("git", "fsck", "--strict", "--no-dangling", "--no-progress")
	cmd.Dir = f.dir
	cmd.Env = f.env()
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		f.t.Fatalf("git fsck --strict: %v\n%s", err, out)
	}
}

// verifyClean asserts that the service layer and the CLI both verify the
// repository with no findings.
func (f *fixture) verifyClean() *covenant.VerifyReport {
	f.t.Helper()
	rep, err := verifyBoth(f.t, f.open())
	if err != nil {
		f.t.Fatal(err)
	}
	if !rep.OK() {
		f.t.Fatalf("Verify found problems in an honest history: %v", rep.Findings)
	}
	if res := f.cli("verify"); res.code != 0 {
		f.t.Fatalf("git covenant verify on an honest history: %s", res)
	}
	return rep
}

// taskList returns the tasks `git covenant task list --json` prints.
func (f *fixture) taskList() []tasks.Task {
	f.t.Helper()
	var out []tasks.Task
	if err := json.Unmarshal([]byte(f.mustCLI("task", "list", "--json")), &out); err != nil {
		f.t.Fatal(err)
	}
	return out
}

func titles(ts []tasks.Task) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Title)
	}
	sort.Strings(out)
	return out
}

// lockFiles lists *.lock files left under refs/covenant.
func (f *fixture) lockFiles() []string {
	f.t.Helper()
	var out []string
	root := filepath.Join(f.dir, ".git", "refs", "covenant")
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".lock") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// findFinding returns the finding of kind on feed and commit, failing the
// test (and listing what was found) if there is none.
func findFinding(t *testing.T, fs []ledger.Finding, kind, feed, commit string) ledger.Finding {
	t.Helper()
	for _, fd := range fs {
		if fd.Kind == kind && fd.Feed == feed && (commit == "" || fd.Commit == commit) {
			return fd
		}
	}
	var b strings.Builder
	for _, fd := range fs {
		b.WriteString("\n  " + fd.String())
	}
	t.Fatalf("no %s finding for feed %s commit %s; findings:%s", kind, feed, commit, b.String())
	return ledger.Finding{}
}

// tryGit runs git in the fixture's repository and returns its combined
// output and error without failing the test.
func tryGit(f *fixture, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = f.dir
	cmd.Env = f.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// verifyBoth runs incremental and full verification and requires that they
// report the same findings; it returns the full report.
func verifyBoth(t testing.TB, r *covenant.Service) (*covenant.VerifyReport, error) {
	t.Helper()
	inc, err := r.Verify(context.Background(), covenant.VerifyOptions{})
	if err != nil {
		return nil, err
	}
	full, err := r.Verify(context.Background(), covenant.VerifyOptions{Full: true})
	if err != nil {
		return nil, err
	}
	key := func(fs []ledger.Finding) string {
		var b strings.Builder
		for _, f := range fs {
			fmt.Fprintf(&b, "%s %s %s %s\n", f.Kind, f.Feed, f.Commit, f.Op)
		}
		return b.String()
	}
	if a, b := key(inc.Findings), key(full.Findings); a != b {
		t.Fatalf("incremental and full verification disagree:\nincremental:\n%s\nfull:\n%s", a, b)
	}
	return full, nil
}
