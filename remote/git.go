package remote

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Git runs the git binary in a repository. Network operations go through
// it so that the user's credential helpers, SSH configuration and URL
// rewrites apply.
type Git struct {
	Dir string   // the work tree, or the git directory of a bare repository
	Env []string // nil means the process environment
}

// result is a finished git command.
type result struct {
	stdout, stderr []byte
	code           int
}

// run runs git with args and returns its output; a non-zero exit is not an
// error here, only a failure to start is.
func (g *Git) run(args ...string) (*result, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = g.Dir
	cmd.Env = g.Env
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := &result{stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: git %s: %v", ErrGit, args[0], err)
	}
	return res, nil
}

// must runs git and turns a non-zero exit into an error naming the
// subcommand and git's own message.
func (g *Git) must(args ...string) ([]byte, error) {
	res, err := g.run(args...)
	if err != nil {
		return nil, err
	}
	if res.code != 0 {
		return nil, res.err(args)
	}
	return res.stdout, nil
}

func (res *result) err(args []string) error {
	sub := args[0]
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			sub = a
			break
		}
	}
	return fmt.Errorf("%w: git %s exited %d: %s", ErrGit, sub, res.code, gitMessage(res.stderr))
}

// gitMessage keeps the informative lines of git's stderr, on one line.
func gitMessage(stderr []byte) string {
	var keep []string
	for _, line := range strings.Split(string(stderr), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "hint:") {
			continue
		}
		keep = append(keep, line)
	}
	if len(keep) == 0 {
		return "(no message)"
	}
	if len(keep) > 3 {
		keep = keep[len(keep)-3:]
	}
	return strings.Join(keep, "; ")
}
