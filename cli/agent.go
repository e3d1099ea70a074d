package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/git-covenant/git-covenant/agents"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/sandbox"
	"github.com/spf13/cobra"
)

func newCmdAgent(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "agent <command>",
		Short: "List, show, check and create the agent manifests the daemon dispatches",
		Long: `Agents are described by manifests committed at .covenant/agents/<name>.toml:
the identity an agent runs as, the tasks it takes (labels, priorities,
states), its command (argv with placeholders such as {task}, {worktree},
{prompt_file}), how it gets the task's prompt, the environment it may see,
secrets read from files, timeout, limits and sandbox, and where the task
goes after a run. 'agent check' validates them all with line numbers.`,
	}
	c.AddCommand(newCmdAgentList(f, nil), newCmdAgentShow(f, nil), newCmdAgentCheck(f, nil), newCmdAgentInit(f, nil))
	return c
}

// agentTree returns the top of the working tree agent manifests are read
// from and written to.
func agentTree(ctx context.Context, service func(context.Context) (*covenant.Service, error)) (*covenant.Service, string, error) {
	svc, err := service(ctx)
	if err != nil {
		return nil, "", err
	}
	top := svc.WorkTree()
	if top == "" {
		return nil, "", fmt.Errorf("%w: agent manifests live in the working tree", covenant.ErrBare)
	}
	return svc, top, nil
}

type agentListOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdAgentList(f *Factory, runF func(context.Context, *agentListOptions) error) *cobra.Command {
	o := &agentListOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "list [--json]",
		Short:   "List the agent manifests of .covenant/agents",
		Long:    "List the valid manifests; when a file is invalid the others are still listed and the command exits 8 (see 'agent check').",
		Example: "  $ git covenant agent list\n  $ git covenant agent list --json",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, _ []string) error { return runCmd(c, o, runF, runAgentList) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array ([] when empty)")
	return c
}

func runAgentList(ctx context.Context, o *agentListOptions) error {
	_, top, err := agentTree(ctx, o.Service)
	if err != nil {
		return err
	}
	ms, loadErr := agents.LoadTree(top)
	if ms == nil {
		return loadErr
	}
	if o.JSON {
		if err := printJSON(o.Out, ms); err != nil {
			return err
		}
		return loadErr
	}
	if len(ms) > 0 {
		tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tIDENTITY\tLABELS\tOUTPUT\tSANDBOX\tCOMMAND")
		for _, m := range ms {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Identity, strings.Join(m.Match.Labels, ","), m.Output, m.Backend(), m.Command[0])
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return loadErr
}

type agentShowOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Name string
	JSON bool
}

func newCmdAgentShow(f *Factory, runF func(context.Context, *agentShowOptions) error) *cobra.Command {
	o := &agentShowOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "show <name> [--json]",
		Short:   "Show one agent manifest with its defaults filled in",
		Example: "  $ git covenant agent show claude\n  $ git covenant agent show claude --json",
		Args:    exactArgs(1, "<name>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Name = args[0]
			return runCmd(c, o, runF, runAgentShow)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the manifest as JSON")
	return c
}

func runAgentShow(ctx context.Context, o *agentShowOptions) error {
	_, top, err := agentTree(ctx, o.Service)
	if err != nil {
		return err
	}
	ms, loadErr := agents.LoadTree(top)
	m, err := agents.Find(ms, o.Name)
	if err != nil {
		var pe *agents.Errors
		if errors.As(loadErr, &pe) {
			for _, p := range pe.List {
				if p.File == agents.ManifestPath(o.Name) {
					return loadErr // it exists but is invalid
				}
			}
		}
		return err
	}
	if o.JSON {
		return printJSON(o.Out, m)
	}
	w := o.Out
	fmt.Fprintf(w, "name:           %s (%s)\n", m.Name, m.Path)
	if m.Description != "" {
		fmt.Fprintf(w, "description:    %s\n", m.Description)
	}
	fmt.Fprintf(w, "identity:       %s\n", m.Identity)
	fmt.Fprintf(w, "takes:          labels %s", strings.Join(m.Match.Labels, ", "))
	if len(m.Match.Priorities) > 0 {
		fmt.Fprintf(w, "; priorities %s", strings.Join(m.Match.Priorities, ", "))
	}
	if len(m.Match.States) > 0 {
		fmt.Fprintf(w, "; states %s", strings.Join(m.Match.States, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "command:        %s\n", quoteArgv(m.Command))
	fmt.Fprintf(w, "prompt:         %s\n", m.Prompt)
	fmt.Fprintf(w, "output:         %s\n", m.Output)
	if m.MCPConfig != "" {
		fmt.Fprintf(w, "mcp config:     %s\n", m.MCPConfig)
	}
	fmt.Fprintf(w, "worktree:       branch covenant/<task-id> from %s\n", m.Worktree.Base)
	fmt.Fprintf(w, "env allowed:    %s\n", strings.Join(m.Env, " "))
	for _, k := range sortedSet(m.Set) {
		fmt.Fprintf(w, "env set:        %s=%s\n", k, m.Set[k])
	}
	for _, s := range m.Secrets {
		fmt.Fprintf(w, "secret:         %s from %s\n", s.Env, s.File)
	}
	fmt.Fprintf(w, "timeout:        %s (grace %s)\n", m.Timeout, m.Grace)
	fmt.Fprintf(w, "output cap:     %s\n", m.OutputCap)
	fmt.Fprintf(w, "max concurrent: %d\n", m.MaxConcurrent)
	fmt.Fprintf(w, "on success:     %s\n", orLeave(m.On.Success))
	fmt.Fprintf(w, "on failure:     %s\n", orLeave(m.On.Failure))
	if m.Validate != nil {
		fmt.Fprintf(w, "validate:       %s\n", quoteArgv(m.Validate.Command))
	}
	net := "no network"
	if m.Sandbox.Network {
		net = "network allowed"
	}
	here := ""
	if b, err := sandbox.Resolve(m.Backend(), !m.Sandbox.Network); err != nil {
		here = " (" + err.Error() + ")"
	} else if m.Backend() == sandbox.Auto {
		here = " (" + string(b) + " on this host)"
	}
	fmt.Fprintf(w, "sandbox:        %s%s, %s\n", m.Backend(), here, net)
	l := m.Limits
	if l != (agents.Limits{}) {
		fmt.Fprintf(w, "limits:        ")
		if l.CPU != 0 {
			fmt.Fprintf(w, " cpu %s", l.CPU)
		}
		if l.Memory != 0 {
			fmt.Fprintf(w, " memory %s", l.Memory)
		}
		if l.Processes != 0 {
			fmt.Fprintf(w, " processes %d", l.Processes)
		}
		if l.FileSize != 0 {
			fmt.Fprintf(w, " file_size %s", l.FileSize)
		}
		if l.OpenFiles != 0 {
			fmt.Fprintf(w, " open_files %d", l.OpenFiles)
		}
		fmt.Fprintln(w)
	}
	return nil
}

func orLeave(s string) string {
	if s == "" {
		return "(stays where it is)"
	}
	return s
}

func sortedSet(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

// quoteArgv shows an argv as a shell would read it.
func quoteArgv(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

type agentCheckOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdAgentCheck(f *Factory, runF func(context.Context, *agentCheckOptions) error) *cobra.Command {
	o := &agentCheckOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "check [--json]",
		Short: "Validate every agent manifest, naming each problem's file and line",
		Long: `Validate every manifest of .covenant/agents: syntax, unknown keys, values,
placeholders, and the states they name against the workflow. Each problem
is printed as '<file> line <n>: <what>'; any problem exits 8, and a daemon
dispatches nothing while one remains.`,
		Example: "  $ git covenant agent check\n  $ git covenant agent check --json",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, _ []string) error { return runCmd(c, o, runF, runAgentCheck) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print {manifests, problems} as JSON")
	return c
}

func runAgentCheck(ctx context.Context, o *agentCheckOptions) error {
	svc, top, err := agentTree(ctx, o.Service)
	if err != nil {
		return err
	}
	wf, err := svc.Workflow()
	if err != nil {
		return err
	}
	ms, err := agents.CheckTree(top, wf)
	var pe *agents.Errors
	if err != nil && !errors.As(err, &pe) {
		return err
	}
	problems := []agents.Problem{}
	if pe != nil {
		problems = pe.List
	}
	if o.JSON {
		names := []string{}
		for _, m := range ms {
			names = append(names, m.Name)
		}
		if err := printJSON(o.Out, agentCheckReport{names, problems}); err != nil {
			return err
		}
	} else {
		for _, p := range problems {
			fmt.Fprintln(o.Out, p.String())
		}
		if len(problems) == 0 {
			fmt.Fprintf(o.Out, "%d agent manifest(s) valid\n", len(ms))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %d problem(s) in %s", agents.ErrInvalid, len(problems), agents.Dir)
	}
	return nil
}

// agentCheckReport is what `agent check --json` prints: the valid
// manifests' names and every problem.
type agentCheckReport struct {
	Manifests []string         `json:"manifests"`
	Problems  []agents.Problem `json:"problems"`
}

type agentInitOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Name, Template string
	Force          bool
}

func newCmdAgentInit(f *Factory, runF func(context.Context, *agentInitOptions) error) *cobra.Command {
	o := &agentInitOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "init <name> --template {claude-code | codex | gemini | aider | script} [--force]",
		Short: "Write a new agent manifest from a template",
		Long: `Write .covenant/agents/<name>.toml from a template with the tool's headless
flags, its output parser, a private home, an allow-listed environment, the
API key read from a file, and, for tools that read one, the MCP
configuration that points the tool at the daemon ('git covenant mcp').
The agent takes tasks labelled agent:<name>. Review the file, create the
identity ('git covenant id new <name> --role agent'), and commit both.`,
		Example: "  $ git covenant agent init claude --template claude-code\n  $ git covenant agent init notes --template script",
		Args:    exactArgs(1, "<name>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Name = args[0]
			if o.Template == "" {
				return usagef("--template is required: one of %s", strings.Join(agents.Templates, ", "))
			}
			return runCmd(c, o, runF, runAgentInit)
		},
	}
	c.Flags().StringVar(&o.Template, "template", "", "the tool: "+strings.Join(agents.Templates, ", "))
	c.Flags().BoolVar(&o.Force, "force", false, "replace existing files")
	return c
}

func runAgentInit(ctx context.Context, o *agentInitOptions) error {
	_, top, err := agentTree(ctx, o.Service)
	if err != nil {
		return err
	}
	files, err := agents.WriteInit(top, o.Name, o.Template, o.Force)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintln(o.Out, f.Path)
	}
	return nil
}

// newCmdSandboxExec is the hidden helper the daemon starts in place of an
// agent (sandbox.HelperArg): it confines itself and executes the agent,
// so it returns only when that failed.
func newCmdSandboxExec() *cobra.Command {
	return &cobra.Command{
		Use:                sandbox.HelperArg + " <spec> -- <argv>...",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			return sandbox.Helper(args)
		},
	}
}
