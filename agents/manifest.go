// Package agents owns the agent manifests committed at
// .covenant/agents/<name>.toml: what an agent is (its identity), what it
// takes (labels, priorities, states), how it is run (argv with
// placeholders, prompt on stdin or in a file, worktree, environment
// allow-list, secrets from files, timeout, limits, sandbox) and what a run
// leads to (transitions, validation). It also holds the templates `agent
// init` writes and the parsers of each tool's JSON events.
//
// Parsing is strict, like the config's: unknown keys and bad values are
// errors that name the file and line, and every problem of a file is
// reported, not just the first. It imports tasks, identity and sandbox for
// their names and checks, nothing that touches the repository.
package agents

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/sandbox"
	"github.com/git-covenant/git-covenant/tasks"
)

// Dir is where manifests live, relative to the top of the working tree.
const Dir = ".covenant/agents"

// Version is the manifest format version this build reads and writes.
const Version = 1

var (
	// ErrInvalid means a manifest does not parse or fails validation.
	ErrInvalid = errors.New("invalid agent manifest")
	// ErrNotFound means no manifest has the name asked for.
	ErrNotFound = errors.New("no such agent")
	// ErrExists means a manifest of that name is already there.
	ErrExists = errors.New("agent manifest exists")
)

// Manifest is one parsed .covenant/agents/<name>.toml.
type Manifest struct {
	// Name is the file's base name without .toml; Path is the file
	// relative to the top of the working tree.
	Name string `toml:"-" json:"name"`
	Path string `toml:"-" json:"path"`

	Version     int    `toml:"version" json:"version"`
	Description string `toml:"description,omitempty" json:"description,omitempty"`
	// Identity is the keystore identity (role agent) the daemon signs for
	// this agent's runs with; it defaults to Name.
	Identity string `toml:"identity,omitempty" json:"identity"`

	Match Match `toml:"match" json:"match"`

	// Command is the argv; see Placeholders for what it may contain.
	Command []string `toml:"command" json:"command"`
	// Prompt says how the agent gets the task's prompt (built from the
	// resume pack): on stdin (closed after it), in a file named by
	// {prompt_file}, or not at all.
	Prompt PromptMode `toml:"prompt,omitempty" json:"prompt"`
	// Output names the parser of the agent's output (see Formats).
	Output string `toml:"output,omitempty" json:"output"`
	// MCPConfig is the file (relative to the top of the working tree) that
	// points the agent's tool at the daemon's MCP server; {mcp_config}
	// expands to its absolute path.
	MCPConfig string `toml:"mcp_config,omitempty" json:"mcp_config,omitempty"`

	// Env is the allow-list: names of variables passed through from the
	// daemon's environment ("LC_*" passes a prefix). Nothing else is.
	Env []string `toml:"env,omitempty" json:"env"`
	// Set are variables with fixed values (placeholders allowed), such as
	// HOME = "{tmp}" to give the tool a private home.
	Set map[string]string `toml:"set,omitempty" json:"set,omitempty"`
	// Secrets are read from files when a run starts and given to the agent
	// in variables; never in argv, never in the manifest.
	Secrets []Secret `toml:"secrets,omitempty" json:"secrets,omitempty"`

	Timeout       Duration `toml:"timeout,omitempty" json:"timeout"`
	Grace         Duration `toml:"grace,omitempty" json:"grace"`
	OutputCap     Size     `toml:"output_cap,omitempty" json:"output_cap"`
	MaxConcurrent int      `toml:"max_concurrent,omitempty" json:"max_concurrent"`

	Worktree Worktree    `toml:"worktree" json:"worktree"`
	On       Transitions `toml:"on" json:"on"`
	Validate *Validate   `toml:"validate,omitempty" json:"validate,omitempty"`
	Sandbox  Sandbox     `toml:"sandbox" json:"sandbox"`
	Limits   Limits      `toml:"limits" json:"limits"`
}

// Match is the [match] table: which tasks the agent takes. A task matches
// when it carries every label, has one of the priorities (any when empty)
// and is in one of the states (the workflow's claimable states when empty).
type Match struct {
	Labels     []string `toml:"labels" json:"labels"`
	Priorities []string `toml:"priorities,omitempty" json:"priorities,omitempty"`
	States     []string `toml:"states,omitempty" json:"states,omitempty"`
}

// PromptMode is how the prompt reaches the agent.
type PromptMode string

const (
	PromptStdin PromptMode = "stdin"
	PromptFile  PromptMode = "file"
	PromptNone  PromptMode = "none"
)

// Secret is one [[secrets]] entry: the content of File (whitespace at the
// end trimmed) becomes the variable Env of the run. File is absolute or
// starts with "~/" (the daemon's home).
type Secret struct {
	Env  string `toml:"env" json:"env"`
	File string `toml:"file" json:"file"`
}

// Worktree is the [worktree] table: each task gets a worktree on branch
// covenant/<task-id>, made from Base.
type Worktree struct {
	Base string `toml:"base,omitempty" json:"base"`
}

// Branch is the branch a task's worktree is on.
func Branch(taskID string) string { return "covenant/" + taskID }

// Transitions is the [on] table: the state a task moves to after a run
// that succeeded (exit 0, validation passed) or failed; "" leaves it.
type Transitions struct {
	Success string `toml:"success,omitempty" json:"success,omitempty"`
	Failure string `toml:"failure,omitempty" json:"failure,omitempty"`
}

// Validate is the [validate] table: a command run in the worktree after
// the agent exits 0; its result becomes the run's evidence.
type Validate struct {
	Command []string `toml:"command" json:"command"`
	Timeout Duration `toml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Sandbox is the [sandbox] table. Backend "" (or "auto") is the strongest
// the host has; a named backend the host lacks fails the run closed.
type Sandbox struct {
	Backend string `toml:"backend,omitempty" json:"backend"`
	// Network allows network access (bwrap shares the host's network).
	Network bool `toml:"network,omitempty" json:"network"`
}

// Limits is the [limits] table (see sandbox.Limits).
type Limits struct {
	CPU       Duration `toml:"cpu,omitempty" json:"cpu,omitempty"`
	Memory    Size     `toml:"memory,omitempty" json:"memory,omitempty"`
	Processes int      `toml:"processes,omitempty" json:"processes,omitempty"`
	FileSize  Size     `toml:"file_size,omitempty" json:"file_size,omitempty"`
	OpenFiles int      `toml:"open_files,omitempty" json:"open_files,omitempty"`
}

// Sandbox returns the limits as the sandbox package takes them.
func (l Limits) Sandbox() sandbox.Limits {
	return sandbox.Limits{CPU: l.CPU.D(), Memory: int64(l.Memory), Processes: l.Processes, FileSize: int64(l.FileSize), OpenFiles: l.OpenFiles}
}

// Defaults applied to what a manifest leaves out.
const (
	DefaultTimeout       = Duration(30 * 60 * 1e9)
	DefaultGrace         = Duration(10 * 1e9)
	DefaultOutputCap     = Size(1 << 20)
	DefaultMaxConcurrent = 1
	DefaultBase          = "HEAD"
)

// Backend is the sandbox backend the manifest asks for.
func (m *Manifest) Backend() sandbox.Backend {
	b, _ := sandbox.ParseBackend(m.Sandbox.Backend)
	return b
}

// Parse decodes and validates one manifest. file is its path relative to
// the top of the working tree (.covenant/agents/<name>.toml); the name is
// its base name. The error, if any, is an *Errors listing every problem
// with its line.
func Parse(file string, b []byte) (*Manifest, error) {
	name := strings.TrimSuffix(path.Base(file), ".toml")
	m := &Manifest{Name: name, Path: file}
	errs := &Errors{}
	if err := identity.CheckName(name); err != nil {
		errs.add(file, 0, "file name: %v", err)
	}
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(m)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			errs.add(file, pe.Position.Line, "%s", pe.Message)
		} else {
			errs.add(file, 0, "%v", err)
		}
		return nil, errs
	}
	lines := keyLines(b)
	for _, k := range md.Undecoded() {
		errs.add(file, lines.of(k.String()), "unknown key %s", k.String())
	}
	m.check(errs, lines)
	if len(errs.List) > 0 {
		errs.sort()
		return nil, errs
	}
	m.defaults()
	return m, nil
}

func (m *Manifest) defaults() {
	if m.Identity == "" {
		m.Identity = m.Name
	}
	if m.Prompt == "" {
		m.Prompt = PromptStdin
	}
	if m.Output == "" {
		m.Output = FormatText
	}
	if m.Timeout == 0 {
		m.Timeout = DefaultTimeout
	}
	if m.Grace == 0 {
		m.Grace = DefaultGrace
	}
	if m.OutputCap == 0 {
		m.OutputCap = DefaultOutputCap
	}
	if m.MaxConcurrent == 0 {
		m.MaxConcurrent = DefaultMaxConcurrent
	}
	if m.Worktree.Base == "" {
		m.Worktree.Base = DefaultBase
	}
	if m.Env == nil {
		m.Env = []string{}
	}
	if m.Match.Labels == nil {
		m.Match.Labels = []string{}
	}
}

// Load reads every *.toml manifest in dir (a directory on disk; a missing
// one holds none). It returns the manifests that are valid, sorted by name,
// and an *Errors with every problem of the others: a caller that must not
// act on a partly bad set (the daemon) treats any error as "dispatch
// nothing".
func Load(dir string) ([]*Manifest, error) {
	return LoadFS(os.DirFS(dir), ".", Dir)
}

// LoadFS is Load over a file system: the manifests are the *.toml files in
// dir of fsys, and prefix is how their paths are shown (Dir for a
// repository's working tree).
func LoadFS(fsys fs.FS, dir, prefix string) ([]*Manifest, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []*Manifest{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", prefix, err)
	}
	out := []*Manifest{}
	errs := &Errors{}
	identities := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".toml") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		file := path.Join(prefix, e.Name())
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		m, err := Parse(file, b)
		if err != nil {
			var pe *Errors
			if errors.As(err, &pe) {
				errs.List = append(errs.List, pe.List...)
				continue
			}
			return nil, err
		}
		if other, ok := identities[m.Identity]; ok {
			errs.add(file, keyLines(b).of("identity"), "identity %q is also the identity of %s: one identity per agent", m.Identity, other)
			continue
		}
		identities[m.Identity] = file
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(errs.List) > 0 {
		return out, errs
	}
	return out, nil
}

// Find returns the manifest named name among ms.
func Find(ms []*Manifest, name string) (*Manifest, error) {
	for _, m := range ms {
		if m.Name == name {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w %q in %s", ErrNotFound, name, Dir)
}

// Problem is one thing wrong with a manifest, where it is.
type Problem struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"` // 0 when no line applies
	Msg  string `json:"message"`
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// Errors is every problem found in one or more manifests. It wraps
// ErrInvalid.
type Errors struct {
	List []Problem
}

func (e *Errors) add(file string, line int, format string, args ...any) {
	e.List = append(e.List, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// sort orders the problems by file, then line.
func (e *Errors) sort() {
	sort.SliceStable(e.List, func(i, j int) bool {
		if e.List[i].File != e.List[j].File {
			return e.List[i].File < e.List[j].File
		}
		return e.List[i].Line < e.List[j].Line
	})
}

func (e *Errors) Error() string {
	s := make([]string, len(e.List))
	for i, p := range e.List {
		s[i] = p.String()
	}
	return ErrInvalid.Error() + ": " + strings.Join(s, "; ")
}

func (e *Errors) Unwrap() error { return ErrInvalid }

// CheckStates checks the states a manifest names (match.states, on.success,
// on.failure) against a workflow; Parse cannot, the workflow is the
// config's. The error is an *Errors.
func CheckStates(ms []*Manifest, wf *tasks.Workflow, read func(file string) []byte) error {
	errs := &Errors{}
	known := map[string]bool{}
	for _, s := range wf.States {
		known[s] = true
	}
	for _, m := range ms {
		var lines lineIndex
		if read != nil {
			lines = keyLines(read(m.Path))
		}
		for i, s := range m.Match.States {
			if !known[s] {
				errs.add(m.Path, lines.of("match.states"), "match.states[%d] = %q is not a state of the workflow (%s)", i, s, strings.Join(wf.States, ", "))
			}
		}
		for key, s := range map[string]string{"on.success": m.On.Success, "on.failure": m.On.Failure} {
			if s != "" && !known[s] {
				errs.add(m.Path, lines.of(key), "%s = %q is not a state of the workflow (%s)", key, s, strings.Join(wf.States, ", "))
			}
		}
	}
	errs.sort()
	if len(errs.List) > 0 {
		return errs
	}
	return nil
}
