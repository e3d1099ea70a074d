package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/cli"
	"github.com/rogpeppe/go-internal/testscript"
)

const gitCompletion = "/usr/share/bash-completion/completions/git"

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"git-covenant": func() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)) },
	})
}

// TestScripts runs the CLI scenarios in testdata/*.txtar against the real
// binary entry point, invoked by the real git as `git covenant`.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// refuses N cmd args...: cmd exits with status N, prints nothing
			// on stdout and exactly one error line on stderr (at most one hint
			// after it), and no ref of the repository in the working
			// directory changed. stdout and stderr stay the command's.
			"refuses": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: refuses <code> <command> [args...]")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				before := refs(ts)
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("%v", err)
					}
					got = ee.ExitCode()
				}
				stderr := ts.ReadFile("stderr")
				if got != want {
					ts.Fatalf("exit status %d, want %d; stderr:\n%s", got, want, stderr)
				}
				if out := ts.ReadFile("stdout"); out != "" {
					ts.Fatalf("a refused command printed on stdout:\n%s", out)
				}
				lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
				if len(lines) < 1 || len(lines) > 2 || !strings.HasPrefix(lines[0], "git-covenant: error: ") ||
					(len(lines) == 2 && !strings.HasPrefix(lines[1], "git-covenant: hint: ")) {
					ts.Fatalf("want one error line (and at most one hint), got:\n%s", stderr)
				}
				if after := refs(ts); after != before {
					ts.Fatalf("refs changed:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			},
			// status N cmd args...: run cmd and require exit status N.
			"status": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: status <code> <command> [args...]")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("%v", err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("exit status %d, want %d", got, want)
				}
			},
		},
		// [gitcompletion]: git's bash completion script is installed
		// (Debian's git package ships it there).
		Condition: func(cond string) (bool, error) {
			if cond == "gitcompletion" {
				_, err := os.Stat(gitCompletion)
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, ".home")
			if err := os.MkdirAll(home, 0o755); err != nil {
				return err
			}
			env.Setenv("HOME", home)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("GIT_COVENANT_HOME", filepath.Join(home, "covenant"))
			env.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			env.Setenv("GIT_CONFIG_GLOBAL", filepath.Join(home, ".gitconfig"))
			env.Setenv("GIT_AUTHOR_NAME", "Test Author")
			env.Setenv("GIT_AUTHOR_EMAIL", "author@example.com")
			env.Setenv("GIT_COMMITTER_NAME", "Test Committer")
			env.Setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
			env.Setenv("USER", "tester")
			// Scripts that run the README's own recipes read it from here.
			readme, err := filepath.Abs(filepath.Join("..", "..", "README.md"))
			if err != nil {
				return err
			}
			env.Setenv("README", readme)
			return nil
		},
	})
}

// refs lists every ref of the repository in the script's working
// directory with its value, run outside testscript so that the stdout and
// stderr of the command under test stay readable.
func refs(ts *testscript.TestScript) string {
	cmd := exec.Command("git", "for-each-ref", "--format=%(refname) %(objectname)")
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	out, err := cmd.Output()
	if err != nil {
		return "(no repository: " + err.Error() + ")"
	}
	return string(out)
}
