package agents

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/git-covenant/git-covenant/identity"
)

// ErrUnknownTemplate means `agent init --template` named no template.
var ErrUnknownTemplate = errors.New("unknown agent template")

// Templates are the tools `agent init` writes manifests for.
var Templates = []string{"claude-code", "codex", "gemini", "aider", "script"}

// File is one file `agent init` writes, relative to the top of the working
// tree.
type File struct {
	Path    string
	Content []byte
	Mode    uint32
}

// ManifestPath is where the manifest of name lives.
func ManifestPath(name string) string { return path.Join(Dir, name+".toml") }

// mcpServer is the MCP server the templates point agents at: the daemon,
// reached through `git covenant mcp` on stdio with the run's token.
const mcpCommand, mcpArg0, mcpArg1 = "git", "covenant", "mcp"

// Init returns the files of a new agent from a template: its manifest and,
// for tools that read one, the MCP configuration that points the tool at
// the daemon. The manifest parses and validates as written.
func Init(name, template string) ([]File, error) {
	if err := identity.CheckName(name); err != nil {
		return nil, err
	}
	if !slices.Contains(Templates, template) {
		return nil, fmt.Errorf("%w %q (want one of %s)", ErrUnknownTemplate, template, strings.Join(Templates, ", "))
	}
	label := "agent:" + name
	r := strings.NewReplacer("@NAME@", name, "@LABEL@", label, "@RUN@", runKeys)
	var files []File
	var body string
	switch template {
	case "claude-code":
		mcp := path.Join(Dir, name+".mcp.json")
		files = append(files, File{Path: mcp, Mode: 0o644, Content: []byte(fmt.Sprintf(
			"{\n  \"mcpServers\": {\n    \"covenant\": {\n      \"command\": %q,\n      \"args\": [%q, %q]\n    }\n  }\n}\n", mcpCommand, mcpArg0, mcpArg1))})
		body = strings.ReplaceAll(claudeTemplate, "@MCP@", mcp)
	case "codex":
		body = codexTemplate
	case "gemini":
		mcp := path.Join(Dir, name+".gemini-settings.json")
		files = append(files, File{Path: mcp, Mode: 0o644, Content: []byte(fmt.Sprintf(
			"{\n  \"mcpServers\": {\n    \"covenant\": {\n      \"command\": %q,\n      \"args\": [%q, %q],\n      \"trust\": true\n    }\n  }\n}\n", mcpCommand, mcpArg0, mcpArg1))})
		body = strings.ReplaceAll(geminiTemplate, "@MCP@", mcp)
	case "aider":
		body = aiderTemplate
	case "script":
		body = scriptTemplate
	}
	manifest := File{Path: ManifestPath(name), Mode: 0o644, Content: []byte(r.Replace(body))}
	if _, err := Parse(manifest.Path, manifest.Content); err != nil {
		return nil, fmt.Errorf("template %s: %w", template, err) // a bug in a template
	}
	return append([]File{manifest}, files...), nil
}

// The common tail of every template.
const commonTail = `
# Which tasks it takes: every label listed, any priority, any claimable state.
[match]
labels = ["@LABEL@"]
# priorities = ["high", "critical"]
# states = ["planned"]

# Each task gets a worktree on branch covenant/<task-id>, made from this ref.
[worktree]
base = "HEAD"

# Where the task goes after a run: success is exit 0 (and the validation
# passing), failure anything else. States of the workflow in config.toml.
[on]
success = "self_review"
failure = "blocked"

# A validation command run in the worktree after a successful run; its
# result is recorded as evidence (and provenance for the branch head).
# [validate]
# command = ["make", "test"]
# timeout = "20m"

# backend "" is the strongest this host has (bwrap, else landlock); name one
# to require it (the run fails closed if the host lacks it), or "none".
# The agent writes only its worktree and temporary directory and can read
# neither keystore nor .git/covenant.
[sandbox]
backend = ""
`

const aiLimits = `network = true # the model's API is on the network

[limits]
cpu = "2h"           # CPU time per process
processes = 1024
file_size = "1GiB"   # largest file it may write
# memory = "8GiB"    # the run's memory (cgroup), else address space per process
`

const claudeTemplate = `# Agent manifest for Claude Code in headless mode. Reviewed like code:
# the daemon runs what this file says, as the identity it names.
version = 1
description = "Claude Code (claude -p), events as stream-json"
identity = "@NAME@"

# The prompt (built from the task's resume pack) arrives on stdin, which is
# closed after it. --output-format stream-json needs --verbose with -p.
# --mcp-config points Claude at the daemon (git covenant mcp) and
# --strict-mcp-config keeps it to that server. Headless, nothing can be
# approved by hand: acceptEdits lets it edit files, --allowedTools lets it
# call the daemon's tools (mcp__covenant) and commit; add the build and test
# commands it should run, e.g. "Bash(make test:*)".
command = ["claude", "-p", "--output-format", "stream-json", "--verbose",
  "--mcp-config", "{mcp_config}", "--strict-mcp-config",
  "--permission-mode", "acceptEdits",
  "--allowedTools", "mcp__covenant,Bash(git status:*),Bash(git diff:*),Bash(git add:*),Bash(git commit:*)"]
prompt = "stdin"
output = "claude-code"
mcp_config = "@MCP@"

# Only these variables pass from the daemon's environment.
env = ["PATH", "LANG", "LC_*", "TERM"]
# A private home per run: Claude writes its state there, not in yours.
[set]
HOME = "{tmp}"

# The API key is read from a file (mode 0600) when a run starts, never
# written in this file or in argv.
[[secrets]]
env = "ANTHROPIC_API_KEY"
file = "~/.config/git-covenant/secrets/anthropic-api-key"
` + commonTail + aiLimits

// runKeys are the run's limits, top-level keys (before any table).
const runKeys = `timeout = "30m"      # then SIGTERM, and SIGKILL after the grace period
grace = "10s"
output_cap = "1MiB"  # output kept as the run's artifact; the digest covers all
max_concurrent = 1
`

const codexTemplate = `# Agent manifest for OpenAI Codex CLI in non-interactive mode. Reviewed
# like code: the daemon runs what this file says, as the identity it names.
version = 1
description = "Codex (codex exec --json), events as JSON lines"
identity = "@NAME@"

# "-" makes codex exec read the prompt from stdin (closed after it).
# --json prints one event per line. The -c overrides point Codex at the
# daemon's MCP server (git covenant mcp) for this run only: Codex has no
# flag for an MCP file. --full-auto lets it edit and run commands in the
# worktree; its own sandbox nests inside bwrap only where user namespaces
# allow it: if it fails there, use --dangerously-bypass-approvals-and-sandbox
# and rely on this manifest's sandbox.
command = ["codex", "exec", "--json", "--full-auto", "--skip-git-repo-check",
  "-c", "mcp_servers.covenant.command=\"git\"",
  "-c", "mcp_servers.covenant.args=[\"covenant\", \"mcp\"]",
  "-"]
prompt = "stdin"
output = "codex"

env = ["PATH", "LANG", "LC_*", "TERM"]
@RUN@
[set]
HOME = "{tmp}"

[[secrets]]
env = "OPENAI_API_KEY"
file = "~/.config/git-covenant/secrets/openai-api-key"
` + commonTail + aiLimits

const geminiTemplate = `# Agent manifest for Gemini CLI in headless mode. Reviewed like code: the
# daemon runs what this file says, as the identity it names.
version = 1
description = "Gemini CLI (gemini -p), one JSON document"
identity = "@NAME@"

# Gemini reads the task from stdin as context for the -p prompt.
# --output-format json prints {response, stats, error}. --yolo approves its
# tool calls (the sandbox confines them). The MCP server comes from the
# settings file that GEMINI_CLI_SYSTEM_SETTINGS_PATH names.
command = ["gemini", "-p", "Carry out the task described above, commit your work on the current branch, and end with a short summary.",
  "--output-format", "json", "--yolo"]
prompt = "stdin"
output = "gemini"
mcp_config = "@MCP@"

env = ["PATH", "LANG", "LC_*", "TERM"]
@RUN@
[set]
HOME = "{tmp}"
GEMINI_CLI_SYSTEM_SETTINGS_PATH = "{mcp_config}"

[[secrets]]
env = "GEMINI_API_KEY"
file = "~/.config/git-covenant/secrets/gemini-api-key"
` + commonTail + aiLimits

const aiderTemplate = `# Agent manifest for aider in scripted mode. Reviewed like code: the
# daemon runs what this file says, as the identity it names.
version = 1
description = "aider (--message-file), plain text with token lines"
identity = "@NAME@"

# The prompt is written to a file ({prompt_file}); --yes-always answers
# every question (older releases call it --yes); aider commits its edits on
# the task's branch. --no-gitignore keeps it from editing .gitignore.
# Aider has no MCP client: inside a run it reaches the daemon through the
# git covenant command instead.
command = ["aider", "--message-file", "{prompt_file}", "--yes-always",
  "--no-pretty", "--no-stream", "--no-check-update", "--no-gitignore"]
prompt = "file"
output = "aider"

env = ["PATH", "LANG", "LC_*", "TERM"]
@RUN@
[set]
HOME = "{tmp}"

[[secrets]]
env = "OPENAI_API_KEY"
file = "~/.config/git-covenant/secrets/openai-api-key"
` + commonTail + aiLimits

const scriptTemplate = `# Agent manifest for a script. Reviewed like code: the daemon runs what
# this file says, as the identity it names.
version = 1
description = "a shell script: writes the task's prompt to a file and commits it"
identity = "@NAME@"

# The prompt arrives on stdin (closed after it). Replace the script with
# your own program; its last paragraph of output is the run's final
# message. Placeholders: {task}, {worktree}, {branch}, {run}, {tmp}, ...
# (never put {title} inside a shell script: pass it as an argument).
command = ["sh", "-c", '''
set -e
cat > "notes-$1.md"
git add "notes-$1.md"
git -c user.name="$2" -c user.email="$2@agents.invalid" -c commit.gpgsign=false commit -q -m "$1: notes from the agent"
echo "wrote notes-$1.md on $(git rev-parse --abbrev-ref HEAD)"
''', "sh", "{task}", "{agent}"]
prompt = "stdin"
output = "text"

env = ["PATH", "LANG", "LC_*"]
@RUN@
[set]
HOME = "{tmp}"
` + commonTail + `network = false

[limits]
cpu = "10m"
processes = 256
file_size = "256MiB"
`
