package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	"github.com/git-covenant/git-covenant/agents"
	"github.com/git-covenant/git-covenant/sandbox"
	"github.com/git-covenant/git-covenant/tasks"
)

// Agent is what the daemon needs of one agent manifest
// (.covenant/agents/<name>.toml); the manifest package parses and
// validates the files, Options.LoadAgents turns them into these.
type Agent struct {
	Name     string // the manifest's name
	Identity string // the identity it runs as (a keystore name)

	// What it takes: a ready task with every one of Labels, any of
	// Priorities (none: any) and in any of States (none: any claimable).
	Labels     []string
	Priorities []string
	States     []string

	// Argv is the command; its placeholders (agents.Placeholders) are
	// replaced per run.
	Argv []string
	// Prompt is how the agent gets the task: "stdin" (closed after the
	// prompt), "file" (its path in {prompt_file} and
	// $GIT_COVENANT_PROMPT_FILE; stdin empty) or "none".
	Prompt string
	// Env names the variables passed from the daemon's environment; Set
	// adds fixed ones; Secrets maps a variable to a file whose content it
	// gets (never argv).
	Env     []string
	Set     map[string]string
	Secrets map[string]string

	BaseRef       string        // the base of covenant/<task> ("" means HEAD)
	Timeout       time.Duration // 0: none
	Grace         time.Duration // SIGTERM to SIGKILL (0: the runner's default)
	MaxConcurrent int           // 0 means 1
	OutputCap     int           // bytes of output kept as the artifact (0: 64 KiB)
	LeaseTTL      time.Duration // 0 means 30m; heartbeats every third of it

	// OnSuccess and OnFailure are the states the task moves to when the
	// agent exits 0 or not ("" leaves it where it is).
	OnSuccess string
	OnFailure string

	// Validation, when set, runs in the worktree after a successful exit
	// (same environment, ValidationTimeout); its result is part of the
	// run record, and the run succeeds only if it exits 0.
	Validation        []string
	ValidationTimeout time.Duration

	// Sandbox names the isolation backend ("" for the strongest the host
	// has, "none" for none); Network allows the network under it; Limits
	// are the run's resource limits.
	Sandbox string
	Network bool
	Limits  sandbox.Limits
	// MCPConfig is the manifest's MCP configuration file, relative to the
	// top of the working tree.
	MCPConfig string

	// Output names the parser of the agent's output (agents.Formats; ""
	// is plain text): it gives the final message, token usage and errors
	// the tool reported on stdout.
	Output string

	// Manifest is the manifest this came from, nil for an Agent built in
	// code; its Environ builds the run's environment when set.
	Manifest *agents.Manifest

	problem string // why it is not dispatched to (set by reload)
}

func (a *Agent) max() int {
	if a.MaxConcurrent <= 0 {
		return 1
	}
	return a.MaxConcurrent
}

func (a *Agent) ttl() time.Duration {
	if a.LeaseTTL <= 0 {
		return 30 * time.Minute
	}
	return a.LeaseTTL
}

// Takes reports whether the agent takes a ready task.
func (a *Agent) Takes(s *tasks.Summary) bool {
	for _, l := range a.Labels {
		if !slices.Contains(s.Labels, l) {
			return false
		}
	}
	if len(a.Priorities) > 0 && !slices.Contains(a.Priorities, s.Priority) {
		return false
	}
	if len(a.States) > 0 && !slices.Contains(a.States, s.State) {
		return false
	}
	return true
}

// argv fills the placeholders.
func (a *Agent) argv(vars map[string]string) ([]string, error) {
	return agents.Expand(a.Argv, vars)
}

// commandDigest is the hex SHA-256 of an argv as a JSON array.
func commandDigest(argv []string) string {
	b, _ := json.Marshal(argv)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
