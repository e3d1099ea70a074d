package agents

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/sandbox"
	"github.com/git-covenant/git-covenant/tasks"
)

const full = `version = 1
description = "Claude Code, headless"
identity = "claude-bot"
command = ["claude", "-p", "--output-format", "stream-json", "--verbose",
  "--mcp-config", "{mcp_config}"]
prompt = "stdin"
output = "claude-code"
mcp_config = ".covenant/agents/claude.mcp.json"
env = ["PATH", "HOME", "LC_*"]
timeout = "45m"
grace = "5s"
output_cap = 2097152
max_concurrent = 3

[[secrets]]
env = "ANTHROPIC_API_KEY"
file = "~/.config/git-covenant/anthropic"

[match]
labels = ["agent:claude", "backend"]
priorities = ["high", "critical"]
states = ["planned"]

[worktree]
base = "main"

[on]
success = "self_review"
failure = "blocked"

[validate]
command = ["make", "-C", "{worktree}", "test"]
timeout = "10m"

[sandbox]
backend = "bwrap"
network = true

[limits]
cpu = "2h"
memory = "8GiB"
processes = 512
file_size = "1GiB"
open_files = 4096
`

func TestParseFull(t *testing.T) {
	m, err := Parse(".covenant/agents/claude.toml", []byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "claude" || m.Identity != "claude-bot" || m.Output != FormatClaudeCode || m.Prompt != PromptStdin {
		t.Fatalf("identity fields: %+v", m)
	}
	if got := strings.Join(m.Match.Labels, ","); got != "agent:claude,backend" {
		t.Fatalf("labels %q", got)
	}
	if m.Timeout.D() != 45*time.Minute || m.Grace.D() != 5*time.Second || m.OutputCap != 2<<20 || m.MaxConcurrent != 3 {
		t.Fatalf("run limits: %v %v %v %d", m.Timeout, m.Grace, m.OutputCap, m.MaxConcurrent)
	}
	if m.Backend() != sandbox.Bwrap || !m.Sandbox.Network {
		t.Fatalf("sandbox %+v", m.Sandbox)
	}
	want := sandbox.Limits{CPU: 2 * time.Hour, Memory: 8 << 30, Processes: 512, FileSize: 1 << 30, OpenFiles: 4096}
	if m.Limits.Sandbox() != want {
		t.Fatalf("limits %+v", m.Limits.Sandbox())
	}
	if len(m.Secrets) != 1 || m.Secrets[0].Env != "ANTHROPIC_API_KEY" || m.Validate == nil || m.Validate.Timeout.D() != 10*time.Minute {
		t.Fatalf("secrets/validate: %+v %+v", m.Secrets, m.Validate)
	}
	if m.On.Success != "self_review" || m.On.Failure != "blocked" || m.Worktree.Base != "main" {
		t.Fatalf("on/worktree: %+v %+v", m.On, m.Worktree)
	}
}

func TestParseDefaults(t *testing.T) {
	m, err := Parse(".covenant/agents/bot.toml", []byte("version = 1\ncommand = [\"./run.sh\"]\n[match]\nlabels = [\"agent:bot\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Identity != "bot" || m.Prompt != PromptStdin || m.Output != FormatText || m.Timeout != DefaultTimeout ||
		m.Grace != DefaultGrace || m.OutputCap != DefaultOutputCap || m.MaxConcurrent != 1 || m.Worktree.Base != DefaultBase ||
		m.Backend() != sandbox.Auto || len(m.Env) != 0 {
		t.Fatalf("defaults: %+v", m)
	}
}

// Each bad manifest names the line of the bad key; every problem of a file
// is reported.
func TestParseErrorsNameTheLine(t *testing.T) {
	base := "version = 1\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n"
	cases := []struct {
		name, text string
		line       int
		want       string
	}{
		{"syntax", "version = 1\ncommand = [\"x\"\n", 2, ""},
		{"no version", "command = [\"x\"]\n[match]\nlabels = [\"a\"]\n", 0, "no version"},
		{"wrong version", "version = 2\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n", 1, "this build reads version 1"},
		{"unknown key", base + "colour = \"red\"\n", 5, "unknown key match.colour"},
		{"unknown top key", "version = 1\nflavour = 1\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n", 2, "unknown key flavour"},
		{"bad duration", "version = 1\ntimeout = \"soon\"\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n", 2, "not a duration"},
		{"bad size", "version = 1\noutput_cap = \"lots\"\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n", 2, "not a size"},
		{"no labels", "version = 1\ncommand = [\"x\"]\n[match]\nlabels = []\n", 4, "names no label"},
		{"bad label", "version = 1\ncommand = [\"x\"]\n[match]\nlabels = [\"no spaces\"]\n", 4, "invalid label"},
		{"bad priority", base + "priorities = [\"urgent\"]\n", 5, "invalid priority"},
		{"no command", "version = 1\n[match]\nlabels = [\"a\"]\n", 0, "names no program"},
		{"unknown placeholder", "version = 1\ncommand = [\"x\",\n  \"{secret}\"]\n[match]\nlabels = [\"a\"]\n", 3, "unknown placeholder {secret}"},
		{"unclosed brace", "version = 1\ncommand = [\"x\", \"{task\"]\n[match]\nlabels = [\"a\"]\n", 2, "unclosed {"},
		{"file prompt unused", "version = 1\nprompt = \"file\"\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n", 2, "never names {prompt_file}"},
		{"prompt file without mode", "version = 1\ncommand = [\"x\", \"{prompt_file}\"]\n[match]\nlabels = [\"a\"]\n", 2, "set prompt = \"file\""},
		{"bad prompt", "version = 1\nprompt = \"argv\"\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n", 2, "want \"stdin\""},
		{"bad output", "version = 1\noutput = \"xml\"\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n", 2, "want one of text"},
		{"mcp placeholder without file", "version = 1\ncommand = [\"x\", \"{mcp_config}\"]\n[match]\nlabels = [\"a\"]\n", 2, "no mcp_config file"},
		{"mcp outside tree", "version = 1\nmcp_config = \"../x.json\"\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n", 2, "clean path inside"},
		{"ssh agent", "version = 1\nenv = [\"PATH\", \"SSH_AUTH_SOCK\"]\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n", 2, "never passed to an agent"},
		{"covenant vars", "version = 1\nenv = [\"GIT_COVENANT_*\"]\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n", 2, "set by the daemon"},
		{"bad env", "version = 1\nenv = [\"A-B\"]\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n", 2, "name a variable"},
		{"secret in repo", base + "[[secrets]]\nenv = \"TOKEN\"\nfile = \"secrets/token\"\n", 7, "absolute path"},
		{"secret twice", base + "[[secrets]]\nenv = \"TOKEN\"\nfile = \"/a\"\n[[secrets]]\nenv = \"TOKEN\"\nfile = \"/b\"\n", 9, "set by another secret"},
		{"secret also allowed", "version = 1\nenv = [\"TOKEN\"]\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n[[secrets]]\nenv = \"TOKEN\"\nfile = \"/a\"\n", 7, "also in env"},
		{"bad base", base + "[worktree]\nbase = \"--upload-pack=x\"\n", 6, "not a ref"},
		{"bad backend", base + "[sandbox]\nbackend = \"docker\"\n", 6, "unknown sandbox backend"},
		{"validate placeholder", base + "[validate]\ncommand = [\"make\", \"{prompt_file}\"]\n", 6, "not available here"},
		{"tiny memory", base + "[limits]\nmemory = \"1KiB\"\n", 6, "at least 16MiB"},
		{"negative procs", base + "[limits]\nprocesses = -1\n", 6, "positive number"},
		{"bad file name", "", 0, "file name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := ".covenant/agents/bot.toml"
			text := c.text
			if c.name == "bad file name" {
				file, text = ".covenant/agents/-bot.toml", base
			}
			m, err := Parse(file, []byte(text))
			if err == nil {
				t.Fatalf("parsed: %+v", m)
			}
			var pe *Errors
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %T %v", err, err)
			}
			var hit *Problem
			for i := range pe.List {
				if strings.Contains(pe.List[i].Msg, c.want) {
					hit = &pe.List[i]
				}
			}
			if hit == nil {
				t.Fatalf("no problem mentions %q: %v", c.want, err)
			}
			if hit.Line != c.line {
				t.Fatalf("line %d, want %d: %v", hit.Line, c.line, hit)
			}
			if c.line > 0 && !strings.Contains(err.Error(), file+" line ") {
				t.Fatalf("message does not name the line: %v", err)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	text := "version = 1\ntimeout = \"1 hour\"\nprompt = \"argv\"\noutput = \"xml\"\ncommand = [\"x\", \"{nope}\"]\n[match]\nlabels = []\n"
	_, err := Parse(".covenant/agents/bot.toml", []byte(text))
	var pe *Errors
	if !errors.As(err, &pe) || len(pe.List) != 5 {
		t.Fatalf("want 5 problems, got %v", err)
	}
	lines := []int{}
	for _, p := range pe.List {
		lines = append(lines, p.Line)
	}
	for _, want := range []int{2, 3, 4, 5, 7} {
		found := false
		for _, l := range lines {
			found = found || l == want
		}
		if !found {
			t.Fatalf("no problem on line %d: %v", want, err)
		}
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.toml", "version = 1\ncommand = [\"x\"]\n[match]\nlabels = [\"b\"]\n")
	write("a.toml", "version = 1\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\n")
	write("README.md", "not a manifest")
	ms, err := Load(dir)
	if err != nil || len(ms) != 2 || ms[0].Name != "a" || ms[1].Name != "b" || ms[0].Path != ".covenant/agents/a.toml" {
		t.Fatalf("load: %v %v", ms, err)
	}
	if _, err := Find(ms, "c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("find c: %v", err)
	}
	// A bad file and a second manifest claiming a's identity: the good
	// ones are returned, with every problem.
	write("c.toml", "version = 1\ncommand = [\"x\"]\n[match]\nlabels = [\"c\"]\ntimeout = \"never\"\n")
	write("d.toml", "version = 1\nidentity = \"a\"\ncommand = [\"x\"]\n[match]\nlabels = [\"d\"]\n")
	ms, err = Load(dir)
	var pe *Errors
	if !errors.As(err, &pe) || len(pe.List) != 2 || len(ms) != 2 {
		t.Fatalf("load with bad files: %v %v", ms, err)
	}
	if pe.List[0].File != ".covenant/agents/c.toml" || pe.List[0].Line != 5 ||
		pe.List[1].File != ".covenant/agents/d.toml" || pe.List[1].Line != 2 || !strings.Contains(pe.List[1].Msg, "also the identity of") {
		t.Fatalf("problems: %+v", pe.List)
	}
	// A missing directory holds no manifest.
	ms, err = Load(filepath.Join(dir, "nope"))
	if err != nil || len(ms) != 0 {
		t.Fatalf("missing dir: %v %v", ms, err)
	}
}

func TestCheckStates(t *testing.T) {
	text := "version = 1\ncommand = [\"x\"]\n[match]\nlabels = [\"a\"]\nstates = [\"planned\", \"doing\"]\n[on]\nsuccess = \"done\"\nfailure = \"blocked\"\n"
	m, err := Parse(".covenant/agents/bot.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	err = CheckStates([]*Manifest{m}, tasks.DefaultWorkflow(), func(string) []byte { return []byte(text) })
	var pe *Errors
	if !errors.As(err, &pe) || len(pe.List) != 2 || pe.List[0].Line != 5 || pe.List[1].Line != 7 {
		t.Fatalf("states: %v", err)
	}
}

func TestExpand(t *testing.T) {
	got, err := Expand([]string{"run", "--task={task}", "{{literal}}", "{worktree}/x"}, map[string]string{"task": "tk-1", "worktree": "/w"})
	if err != nil || strings.Join(got, " ") != "run --task=tk-1 {literal} /w/x" {
		t.Fatalf("expand: %q %v", got, err)
	}
	if _, err := Expand([]string{"{run}"}, map[string]string{}); !errors.Is(err, ErrPlaceholder) {
		t.Fatalf("missing value: %v", err)
	}
}

func TestSizeAndDuration(t *testing.T) {
	for in, want := range map[string]Size{"64KiB": 64 << 10, "1MiB": 1 << 20, "2G": 2 << 30, "1000": 1000, "5MB": 5e6} {
		var z Size
		if z.UnmarshalText([]byte(in)); z != want {
			t.Fatalf("%s: %v", in, z)
		}
	}
	if s := Size(3 << 20).String(); s != "3MiB" {
		t.Fatal(s)
	}
	var d Duration
	if d.UnmarshalText([]byte("-1s")); d.valid() {
		t.Fatal("negative duration accepted")
	}
}

// The environment holds the allow-list, [set] and the secrets, nothing
// else: not a variable the list does not name, never the ssh-agent socket
// even through a prefix, and a secret only from a private file.
func TestEnviron(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".config"), 0o700)
	secret := filepath.Join(home, ".config", "api-key")
	os.WriteFile(secret, []byte("sk-test-123\n"), 0o600)
	text := "version = 1\ncommand = [\"x\"]\nenv = [\"PATH\", \"LC_*\", \"SS*\"]\n[set]\nHOME = \"{tmp}\"\n[match]\nlabels = [\"a\"]\n[[secrets]]\nenv = \"API_KEY\"\nfile = \"~/.config/api-key\"\n"
	m, err := Parse(".covenant/agents/bot.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	daemon := []string{"PATH=/usr/bin", "HOME=/root", "LC_ALL=C", "SSH_AUTH_SOCK=/tmp/agent.sock", "AWS_SECRET_ACCESS_KEY=nope", "GIT_COVENANT_HOME=/keys"}
	env, err := m.Environ(daemon, map[string]string{"tmp": "/run/tmp"}, home, "GIT_COVENANT_RUN_TOKEN_FILE=/run/tmp/token")
	if err != nil {
		t.Fatal(err)
	}
	want := "PATH=/usr/bin LC_ALL=C HOME=/run/tmp API_KEY=sk-test-123 GIT_COVENANT_RUN_TOKEN_FILE=/run/tmp/token"
	if got := strings.Join(env, " "); got != want {
		t.Fatalf("env\n got %s\nwant %s", got, want)
	}
	os.Chmod(secret, 0o644)
	if _, err := m.Environ(daemon, map[string]string{"tmp": "/t"}, home); !errors.Is(err, ErrSecret) {
		t.Fatalf("secret readable by others: %v", err)
	}
	os.Remove(secret)
	if _, err := m.Environ(daemon, map[string]string{"tmp": "/t"}, home); !errors.Is(err, ErrSecret) {
		t.Fatalf("missing secret: %v", err)
	}
}

func TestTitleInShellScriptRefused(t *testing.T) {
	text := "version = 1\ncommand = [\"sh\", \"-c\", \"echo {title}\"]\n[match]\nlabels = [\"a\"]\n"
	if _, err := Parse(".covenant/agents/bot.toml", []byte(text)); err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "shell code") {
		t.Fatalf("title in sh -c: %v", err)
	}
	ok := "version = 1\ncommand = [\"sh\", \"-c\", \"echo \\\"$1\\\"\", \"sh\", \"{title}\"]\n[match]\nlabels = [\"a\"]\n"
	if _, err := Parse(".covenant/agents/bot.toml", []byte(ok)); err != nil {
		t.Fatal(err)
	}
}

// Every template writes a manifest that validates, with the tool's
// headless flags, and the MCP file where the tool reads one.
func TestTemplates(t *testing.T) {
	want := map[string][]string{
		"claude-code": {"claude -p --output-format stream-json --verbose --mcp-config {mcp_config}", FormatClaudeCode},
		"codex":       {"codex exec --json", FormatCodex},
		"gemini":      {"--output-format json", FormatGemini},
		"aider":       {"aider --message-file {prompt_file} --yes-always", FormatAider},
		"script":      {"sh -c", FormatText},
	}
	for _, tpl := range Templates {
		files, err := Init("bot", tpl)
		if err != nil {
			t.Fatalf("%s: %v", tpl, err)
		}
		m, err := Parse(files[0].Path, files[0].Content)
		if err != nil {
			t.Fatalf("%s: %v", tpl, err)
		}
		if got := strings.Join(m.Command, " "); !strings.Contains(got, want[tpl][0]) || m.Output != want[tpl][1] {
			t.Errorf("%s: command %q output %s", tpl, got, m.Output)
		}
		if m.Match.Labels[0] != "agent:bot" || m.Identity != "bot" || m.On.Success != "self_review" {
			t.Errorf("%s: %+v", tpl, m)
		}
		if m.MCPConfig != "" {
			if len(files) != 2 || files[1].Path != m.MCPConfig || !strings.Contains(string(files[1].Content), `"args": ["covenant", "mcp"]`) {
				t.Errorf("%s: mcp files %+v", tpl, files)
			}
		}
		if err := CheckStates([]*Manifest{m}, tasks.DefaultWorkflow(), nil); err != nil {
			t.Errorf("%s: %v", tpl, err)
		}
	}
	if _, err := Init("bot", "cursor"); !errors.Is(err, ErrUnknownTemplate) {
		t.Fatal(err)
	}
}
