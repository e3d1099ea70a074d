package daemon

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/git-covenant/git-covenant/agents"
	"github.com/git-covenant/git-covenant/covenant"
)

// FromManifest is the daemon's view of a validated manifest. home expands
// a secret file's leading "~/".
func FromManifest(m *agents.Manifest, home string) *Agent {
	a := &Agent{Name: m.Name, Identity: m.Identity, Labels: m.Match.Labels, Priorities: m.Match.Priorities, States: m.Match.States,
		Argv: m.Command, Prompt: string(m.Prompt), Env: m.Env, BaseRef: m.Worktree.Base,
		Timeout: m.Timeout.D(), Grace: m.Grace.D(), MaxConcurrent: m.MaxConcurrent, OutputCap: int(m.OutputCap),
		OnSuccess: m.On.Success, OnFailure: m.On.Failure, Sandbox: m.Sandbox.Backend, Network: m.Sandbox.Network,
		Limits: m.Limits.Sandbox(), MCPConfig: m.MCPConfig, Output: m.Output, Set: m.Set, Manifest: m}
	if len(m.Secrets) > 0 {
		a.Secrets = map[string]string{}
		for _, s := range m.Secrets {
			p := s.File
			if rest, ok := strings.CutPrefix(p, "~/"); ok {
				p = filepath.Join(home, rest)
			}
			a.Secrets[s.Env] = p
		}
	}
	if m.Validate != nil {
		a.Validation, a.ValidationTimeout = m.Validate.Command, m.Validate.Timeout.D()
	}
	return a
}

// LoadManifests returns a loader of the working tree's manifests, checked
// against the workflow: any problem in any manifest is an error, and the
// daemon then dispatches nothing new (it keeps what it had).
func LoadManifests(svc *covenant.Service, home string) func() ([]*Agent, error) {
	return func() ([]*Agent, error) {
		top := svc.WorkTree()
		if top == "" {
			return nil, covenant.ErrBare
		}
		ms, err := agents.Load(filepath.Join(top, filepath.FromSlash(agents.Dir)))
		if err != nil {
			return nil, err
		}
		wf, err := svc.Workflow()
		if err != nil {
			return nil, err
		}
		read := func(file string) []byte {
			b, _ := os.ReadFile(filepath.Join(top, filepath.FromSlash(file)))
			return b
		}
		if err := agents.CheckStates(ms, wf, read); err != nil {
			return nil, err
		}
		out := make([]*Agent, len(ms))
		for i, m := range ms {
			out[i] = FromManifest(m, home)
		}
		return out, nil
	}
}

// mcpConfig is the absolute path of the agent's MCP configuration file.
func (d *Daemon) mcpConfig(a *Agent) string {
	if a.MCPConfig == "" {
		return ""
	}
	return filepath.Join(d.svc.WorkTree(), filepath.FromSlash(a.MCPConfig))
}
