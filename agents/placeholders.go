package agents

import (
	"errors"
	"fmt"
	"strings"
)

// ErrPlaceholder means an argv element names a placeholder that does not
// exist or is not available where it is used.
var ErrPlaceholder = errors.New("bad placeholder")

// Placeholders are the names a command's argv may use as {name}; "{{" and
// "}}" stand for literal braces. Secrets are never among them: they reach
// the agent in variables only.
var Placeholders = map[string]string{
	"task":        "the task id (tk-…)",
	"title":       "the task's title",
	"agent":       "the manifest's name",
	"identity":    "the agent's identity",
	"run":         "the run's id",
	"worktree":    "the absolute path of the task's worktree",
	"branch":      "the worktree's branch, covenant/<task-id>",
	"base":        "the base ref the branch was made from",
	"prompt_file": "the file holding the prompt (prompt = \"file\")",
	"mcp_config":  "the absolute path of the manifest's mcp_config file",
	"tmp":         "the run's private temporary directory",
}

// validatePlaceholders are the placeholders a [validate] command may use.
var validatePlaceholders = []string{"task", "worktree", "branch", "base", "tmp"}

// placeholdersIn returns the placeholder names used in arg.
func placeholdersIn(arg string) ([]string, error) {
	var names []string
	for i := 0; i < len(arg); i++ {
		switch arg[i] {
		case '{':
			if i+1 < len(arg) && arg[i+1] == '{' {
				i++
				continue
			}
			j := strings.IndexByte(arg[i:], '}')
			if j < 0 {
				return nil, fmt.Errorf("%w: unclosed { in %q (write {{ for a literal brace)", ErrPlaceholder, arg)
			}
			names = append(names, arg[i+1:i+j])
			i += j
		case '}':
			if i+1 < len(arg) && arg[i+1] == '}' {
				i++
				continue
			}
			return nil, fmt.Errorf("%w: stray } in %q (write }} for a literal brace)", ErrPlaceholder, arg)
		}
	}
	return names, nil
}

// uses reports whether any element of argv uses placeholder name.
func uses(argv []string, name string) bool {
	for _, a := range argv {
		ns, _ := placeholdersIn(a)
		for _, n := range ns {
			if n == name {
				return true
			}
		}
	}
	return false
}

// Expand replaces the placeholders of argv with vars. A placeholder with
// no value in vars is an error (nothing is started with a hole in its
// argv).
func Expand(argv []string, vars map[string]string) ([]string, error) {
	out := make([]string, len(argv))
	for k, arg := range argv {
		var b strings.Builder
		for i := 0; i < len(arg); i++ {
			c := arg[i]
			if (c == '{' || c == '}') && i+1 < len(arg) && arg[i+1] == c {
				b.WriteByte(c)
				i++
				continue
			}
			if c == '}' {
				return nil, fmt.Errorf("%w: stray } in %q", ErrPlaceholder, arg)
			}
			if c != '{' {
				b.WriteByte(c)
				continue
			}
			j := strings.IndexByte(arg[i:], '}')
			if j < 0 {
				return nil, fmt.Errorf("%w: unclosed { in %q", ErrPlaceholder, arg)
			}
			name := arg[i+1 : i+j]
			v, ok := vars[name]
			if !ok {
				return nil, fmt.Errorf("%w: {%s} has no value here", ErrPlaceholder, name)
			}
			b.WriteString(v)
			i += j
		}
		out[k] = b.String()
	}
	return out, nil
}
