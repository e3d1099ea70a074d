package agents

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/sandbox"
	"github.com/git-covenant/git-covenant/tasks"
)

var envNameRE = &lazyre.Regexp{Expr: `^[A-Za-z_][A-Za-z0-9_]*\*?$`}

// forbiddenEnv are variables no manifest may pass to an agent: they reach a
// human's signing agent or point at covenant's own keys and tokens (the
// daemon sets what a run needs itself).
func forbiddenEnv(name string) string {
	switch {
	case name == "SSH_AUTH_SOCK", name == "SSH_AGENT_PID":
		return "it reaches the ssh-agent and a human's keys; agents never borrow a human's key"
	case name == "GPG_AGENT_INFO":
		return "it reaches the gpg-agent and a human's keys"
	case strings.HasPrefix(name, "GIT_COVENANT"):
		return "covenant's own variables (keystore, tokens) are set by the daemon, never passed through"
	}
	return ""
}

// check validates the decoded manifest, adding every problem to errs.
func (m *Manifest) check(errs *Errors, lines lineIndex) {
	f := m.Path
	at := func(key string, format string, args ...any) { errs.add(f, lines.of(key), format, args...) }

	if m.Version != Version {
		if !lines.has("version") {
			at("version", "no version: write version = %d at the top", Version)
		} else {
			at("version", "version = %d, this build reads version %d", m.Version, Version)
		}
	}
	if m.Identity != "" {
		if err := identity.CheckName(m.Identity); err != nil {
			at("identity", "identity: %v", err)
		}
	}

	// [match]
	if len(m.Match.Labels) == 0 {
		at("match.labels", "match.labels names no label: an agent takes only tasks labelled for it, e.g. labels = [\"agent:%s\"]", m.Name)
	} else if norm, err := tasks.NormalizeLabels(m.Match.Labels); err != nil {
		at("match.labels", "match.labels: %v", err)
	} else {
		m.Match.Labels = norm
	}
	for i, p := range m.Match.Priorities {
		if err := tasks.CheckPriority(p); err != nil {
			at("match.priorities", "match.priorities[%d]: %v", i, err)
		}
	}
	for i, s := range m.Match.States {
		if strings.TrimSpace(s) == "" {
			at("match.states", "match.states[%d] is empty", i)
		}
	}

	// command, prompt, output, mcp_config
	m.checkArgv(errs, lines, "command", m.Command, nil)
	switch m.Prompt {
	case "", PromptStdin, PromptNone:
		if uses(m.Command, "prompt_file") {
			at("command", "command uses {prompt_file} but prompt = %q: set prompt = \"file\"", m.promptName())
		}
	case PromptFile:
		if !uses(m.Command, "prompt_file") {
			at("prompt", "prompt = \"file\" but command never names {prompt_file}")
		}
	default:
		at("prompt", "prompt = %q: want \"stdin\" (the prompt on stdin, closed after it), \"file\" ({prompt_file}) or \"none\"", m.Prompt)
	}
	if m.Output != "" && !slices.Contains(Formats, m.Output) {
		at("output", "output = %q: want one of %s", m.Output, strings.Join(Formats, ", "))
	}
	if m.MCPConfig != "" {
		if err := checkRelPath(m.MCPConfig); err != nil {
			at("mcp_config", "mcp_config = %q: %v", m.MCPConfig, err)
		}
	} else if uses(m.Command, "mcp_config") {
		at("command", "command uses {mcp_config} but no mcp_config file is named")
	}

	// env and secrets
	allowed := map[string]bool{}
	for i, e := range m.Env {
		switch {
		case !envNameRE.MatchString(e):
			at("env", "env[%d] = %q: name a variable (letters, digits, _), or a prefix ending in *", i, e)
		case forbiddenEnv(strings.TrimSuffix(e, "*")) != "":
			at("env", "env[%d] = %q is never passed to an agent: %s", i, e, forbiddenEnv(strings.TrimSuffix(e, "*")))
		case e == "GIT_*" || strings.HasPrefix(e, "GIT_") && strings.HasSuffix(e, "*"):
			at("env", "env[%d] = %q: git's variables are set per run (GIT_DIR, GIT_WORK_TREE would point elsewhere)", i, e)
		}
		allowed[e] = true
	}
	seen := map[string]bool{}
	for _, k := range sortedKeys(m.Set) {
		v := m.Set[k]
		switch {
		case !envNameRE.MatchString(k) || strings.HasSuffix(k, "*"):
			at("set."+k, "set.%s: name a variable (letters, digits, _)", k)
		case forbiddenEnv(k) != "":
			at("set."+k, "set.%s: %s", k, forbiddenEnv(k))
		case allowed[k]:
			at("set."+k, "set.%s is also in env: pass it through or set it, not both", k)
		}
		seen[k] = true
		m.checkArgv(errs, lines, "set."+k, []string{v}, nil)
	}
	for i, s := range m.Secrets {
		key := fmt.Sprintf("secrets.%d", i)
		switch {
		case !envNameRE.MatchString(s.Env) || strings.HasSuffix(s.Env, "*"):
			at(key+".env", "secrets[%d].env = %q: name the variable the secret goes in", i, s.Env)
		case forbiddenEnv(s.Env) != "":
			at(key+".env", "secrets[%d].env = %q: %s", i, s.Env, forbiddenEnv(s.Env))
		case seen[s.Env]:
			at(key+".env", "secrets[%d].env = %q is set by another secret or in [set] too", i, s.Env)
		case allowed[s.Env]:
			at(key+".env", "secrets[%d].env = %q is also in env: a secret comes from its file only", i, s.Env)
		}
		seen[s.Env] = true
		if !strings.HasPrefix(s.File, "/") && !strings.HasPrefix(s.File, "~/") {
			at(key+".file", "secrets[%d].file = %q: give an absolute path or one starting with ~/ (a secret never lives in the repository)", i, s.File)
		} else if strings.Contains(s.File, "/../") || strings.HasSuffix(s.File, "/..") {
			at(key+".file", "secrets[%d].file = %q: no .. in the path", i, s.File)
		}
	}

	// values that did not parse
	for key, d := range map[string]Duration{"timeout": m.Timeout, "grace": m.Grace, "limits.cpu": m.Limits.CPU} {
		if !d.valid() {
			at(key, "%s is not a duration (write it like \"90s\", \"30m\" or \"1h30m\")", key)
		}
	}
	if m.Validate != nil && !m.Validate.Timeout.valid() {
		at("validate.timeout", "validate.timeout is not a duration (write it like \"90s\", \"30m\" or \"1h30m\")")
	}
	for key, z := range map[string]Size{"output_cap": m.OutputCap, "limits.memory": m.Limits.Memory, "limits.file_size": m.Limits.FileSize} {
		if !z.valid() {
			at(key, "%s is not a size (write it like \"64KiB\", \"1MiB\", \"4GiB\" or a number of bytes)", key)
		}
	}

	// run limits
	if m.MaxConcurrent < 0 {
		at("max_concurrent", "max_concurrent = %d: want 1 or more", m.MaxConcurrent)
	}
	if m.OutputCap.valid() && m.OutputCap != 0 && m.OutputCap < 1<<10 {
		at("output_cap", "output_cap = %s: want at least 1KiB", m.OutputCap)
	}
	if m.OutputCap > 1<<30 {
		at("output_cap", "output_cap = %s: at most 1GiB is kept", m.OutputCap)
	}

	// [worktree]
	if b := m.Worktree.Base; b != "" && !validRef(b) {
		at("worktree.base", "worktree.base = %q is not a ref or revision name", b)
	}
	// [on]
	for key, s := range map[string]string{"on.success": m.On.Success, "on.failure": m.On.Failure} {
		if s != "" && strings.TrimSpace(s) != s {
			at(key, "%s = %q: a state name has no spaces", key, s)
		}
	}
	// [validate]
	if m.Validate != nil {
		if len(m.Validate.Command) == 0 {
			at("validate.command", "[validate] names no command")
		}
		m.checkArgv(errs, lines, "validate.command", m.Validate.Command, validatePlaceholders)
	}
	// [sandbox]
	if _, err := sandbox.ParseBackend(m.Sandbox.Backend); err != nil {
		at("sandbox.backend", "sandbox.backend: %v", err)
	}
	// [limits]
	if m.Limits.Processes < 0 {
		at("limits.processes", "limits.processes = %d: want a positive number", m.Limits.Processes)
	}
	if m.Limits.OpenFiles < 0 || m.Limits.OpenFiles > 0 && m.Limits.OpenFiles < 16 {
		at("limits.open_files", "limits.open_files = %d: want 16 or more", m.Limits.OpenFiles)
	}
	if m.Limits.Memory.valid() && m.Limits.Memory != 0 && m.Limits.Memory < 16<<20 {
		at("limits.memory", "limits.memory = %s: want at least 16MiB", m.Limits.Memory)
	}
	if m.Limits.CPU.valid() && m.Limits.CPU != 0 && m.Limits.CPU.D().Seconds() < 1 {
		at("limits.cpu", "limits.cpu = %s: want at least 1s", m.Limits.CPU)
	}
}

func (m *Manifest) promptName() string {
	if m.Prompt == "" {
		return string(PromptStdin)
	}
	return string(m.Prompt)
}

// checkArgv checks an argv's placeholders; only, when non-nil, limits them.
func (m *Manifest) checkArgv(errs *Errors, lines lineIndex, key string, argv []string, only []string) {
	at := func(format string, args ...any) { errs.add(m.Path, lines.of(key), format, args...) }
	atElem := func(v, format string, args ...any) { errs.add(m.Path, lines.elem(key, v), format, args...) }
	if key == "command" && len(argv) == 0 {
		at("command names no program: write command = [\"program\", \"arg\", …]")
		return
	}
	if len(argv) > 0 && strings.TrimSpace(argv[0]) == "" {
		at("%s[0] is empty", key)
	}
	if len(argv) > 2 && isShell(argv[0]) && slices.Contains(argv[1:], "-c") {
		for i, a := range argv {
			if i > 0 && argv[i-1] == "-c" && (uses([]string{a}, "title")) {
				at("%s[%d]: {title} inside a shell script lets a task's title run as shell code; pass it as an argument (sh -c 'echo \"$1\"' sh {title})", key, i)
			}
		}
	}
	for i, a := range argv {
		if strings.ContainsRune(a, 0) {
			at("%s[%d] holds a NUL byte", key, i)
			continue
		}
		names, err := placeholdersIn(a)
		if err != nil {
			atElem(a, "%s[%d]: %v", key, i, err)
			continue
		}
		for _, n := range names {
			if _, ok := Placeholders[n]; !ok {
				atElem(a, "%s[%d] = %q: unknown placeholder {%s} (known: %s)", key, i, a, n, strings.Join(placeholderNames(), ", "))
			} else if only != nil && !slices.Contains(only, n) {
				atElem(a, "%s[%d] = %q: {%s} is not available here (only %s)", key, i, a, n, strings.Join(only, ", "))
			}
		}
	}
}

func isShell(p string) bool {
	switch path.Base(p) {
	case "sh", "bash", "dash", "zsh", "ksh", "fish":
		return true
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func placeholderNames() []string {
	var out []string
	for n := range Placeholders {
		out = append(out, "{"+n+"}")
	}
	slices.Sort(out)
	return out
}

// checkRelPath accepts a clean path relative to the top of the working
// tree, outside .git.
func checkRelPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "~") {
		return fmt.Errorf("give a path relative to the top of the working tree")
	}
	if path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("give a clean path inside the working tree")
	}
	if p == ".git" || strings.HasPrefix(p, ".git/") {
		return fmt.Errorf("a committed file cannot be under .git")
	}
	return nil
}

var refRE = &lazyre.Regexp{Expr: `^[A-Za-z0-9_][A-Za-z0-9_./@^~{}-]*$`}

// validRef accepts what git would take as a base revision and refuses what
// could read as an option or reach outside refs.
func validRef(s string) bool {
	return refRE.MatchString(s) && !strings.Contains(s, "..") && !strings.HasSuffix(s, ".lock") && !strings.HasSuffix(s, "/")
}
