// Package testgit makes real git repositories for tests, with a fixed
// identity and clock and without the user's git configuration.
package testgit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Env is the environment every git invocation in tests runs with.
func Env(home string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") || k == "HOME" || k == "XDG_CONFIG_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"GIT_CONFIG_GLOBAL="+filepath.Join(home, ".gitconfig"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test Author", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Test Committer", "GIT_COMMITTER_EMAIL=committer@example.com",
		"GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z",
	)
}

// Init creates a repository with one commit on main and returns its path.
func Init(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	Run(t, "", "init", "-q", "-b", "main", dir)
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Run(t, dir, "add", "README")
	Run(t, dir, "commit", "-q", "-m", "initial")
	return dir
}

// Run runs git in dir and returns its trimmed stdout, failing the test on error.
func Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := Try(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Try runs git in dir and returns its combined output and error.
func Try(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	home := filepath.Join(os.TempDir(), "git-covenant-test-home")
	os.MkdirAll(home, 0o755)
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = Env(home)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// BuildBinary builds git-covenant into dir for tests that run it as a
// process, and returns its path. -buildvcs=false: stamping would run git
// with the user's configuration.
func BuildBinary(dir string) (string, error) {
	bin := filepath.Join(dir, "git-covenant")
	build := exec.Command("go", "build", "-buildvcs=false", "-o", bin, "github.com/git-covenant/git-covenant/cmd/git-covenant")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// Exec runs a program in dir with exactly env and returns its output and
// exit status; status -1 means it could not start (err says why). It never
// fails the test, so it may be called from any goroutine.
func Exec(dir string, env []string, bin string, args ...string) (stdout, stderr string, status int) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		status = ee.ExitCode()
	default:
		return out.String(), err.Error(), -1
	}
	return out.String(), errb.String(), status
}
