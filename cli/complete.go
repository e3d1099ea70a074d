package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
	"github.com/spf13/cobra"
)

// Shell completion. Both `git-covenant <TAB>` and `git covenant <TAB>`
// complete commands, flags and values; values that live in the
// repository (task ids, identities, states, gates, remotes) come from the
// Service, so completion reads the same state every command does. A
// completion that cannot open the repository offers nothing, silently.

type completionOptions struct {
	Out io.Writer

	Root  *cobra.Command
	Shell string
}

func newCmdCompletion(f *Factory, runF func(context.Context, *completionOptions) error) *cobra.Command {
	o := &completionOptions{Out: f.Out}
	return &cobra.Command{
		Use:   "completion {bash | zsh | fish | powershell}",
		Short: "Print a shell completion script for git-covenant and git covenant",
		Long: `Print a completion script. It completes commands, flags, task ids, identity
names, states, gates and remotes, both for 'git-covenant' and, under bash
with git's own completion loaded, for 'git covenant' (git's completion calls
the _git_covenant function the script defines).

bash: load it in ~/.bashrc, or install it where bash-completion loads it
on demand (make install does: <prefix>/share/bash-completion/completions/git-covenant,
found for <prefix>/bin on PATH; git's completion then loads it for
'git covenant' too):

  source <(git covenant completion bash)`,
		Example:   "  $ git covenant completion bash > ~/.local/share/bash-completion/completions/git-covenant\n  $ git covenant completion zsh > \"${fpath[1]}/_git-covenant\"",
		Args:      exactArgs(1, "one shell: bash, zsh, fish or powershell"),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(c *cobra.Command, args []string) error {
			switch args[0] {
			case "bash", "zsh", "fish", "powershell":
			default:
				return usagef("completion: unknown shell %q (bash, zsh, fish or powershell)", args[0])
			}
			o.Root, o.Shell = c.Root(), args[0]
			return runCmd(c, o, runF, runCompletion)
		},
	}
}

func runCompletion(_ context.Context, o *completionOptions) error {
	switch o.Shell {
	case "zsh":
		return genZsh(o.Root, o.Out)
	case "fish":
		return o.Root.GenFishCompletion(o.Out, true)
	case "powershell":
		return o.Root.GenPowerShellCompletionWithDesc(o.Out)
	}
	if err := o.Root.GenBashCompletionV2(o.Out, true); err != nil {
		return err
	}
	_, err := io.WriteString(o.Out, gitBashCompletion)
	return err
}

// gitBashCompletion is the `git covenant` half of the bash script: git's
// completion (git-completion.bash) calls _git_<command> with words, cword
// and cur set and __git_cmd_idx at "covenant". It asks the binary through
// git itself (so -C <dir> is honoured) and adds the space after a word,
// as git's own completions do (git registers itself with -o nospace).
const gitBashCompletion = `
# git covenant <TAB>, called by git's bash completion.
_git_covenant()
{
	local i out directive c
	local -a args comps
	for ((i = ${__git_cmd_idx:-1} + 1; i < cword; i++)); do
		args+=("${words[i]}")
	done
	local value="$cur"
	[[ $cur == -*=* ]] && value="${cur#*=}"
	out=$(git "${__git_C_args[@]}" covenant __completeNoDesc "${args[@]}" "$cur" 2>/dev/null) || return
	directive="${out##*:}"
	out="${out%:*}"
	[[ $directive =~ ^[0-9]+$ ]] || return
	(( directive & 1 )) && return
	local suffix=" "
	(( directive & 2 )) && suffix=""
	while IFS='' read -r c; do
		[[ -n $c && $c == "$value"* ]] && comps+=("$c$suffix")
	done <<< "$out"
	if (( ${#comps[@]} == 0 )); then
		# Only filename completion (git's -o default) when cobra allows it.
		if (( directive & 4 )) && type compopt >/dev/null 2>&1; then
			compopt +o default +o bashdefault 2>/dev/null
		fi
		return
	fi
	COMPREPLY=("${comps[@]}")
}
`

// genZsh writes cobra's zsh script with its completion function renamed,
// and a _git-covenant in front of it that serves both callers: zsh itself
// for 'git-covenant' (the #compdef line), and zsh's git completion for
// 'git covenant', which calls _git-<command> for a git-<command> on PATH
// with words starting at "covenant". Then the binary is asked through git
// itself, so -C <dir> is honoured.
func genZsh(root *cobra.Command, out io.Writer) error {
	var b strings.Builder
	if err := root.GenZshCompletion(&b); err != nil {
		return err
	}
	s := b.String()
	const fn, tail = "\n_git-covenant()\n", "\n# don't run the completion function when being source-ed or eval-ed\n"
	if strings.Count(s, fn) != 1 || strings.Count(s, tail) != 1 || !strings.HasPrefix(s, "#compdef git-covenant\n") {
		return fmt.Errorf("completion zsh: cobra's script changed shape") // a cobra upgrade; the zsh test catches it
	}
	s = strings.Replace(s, fn, "\n__git-covenant_complete()\n", 1)
	// zsh's git completion lists a _git-<command> file of fpath as a git
	// command, with the description on its second line.
	s = strings.Replace(s, "#compdef git-covenant\n", "#compdef git-covenant\n#description "+root.Short+"\n", 1)
	s = strings.Replace(s, tail, gitZshCompletion+tail, 1)
	_, err := io.WriteString(out, s)
	return err
}

// gitZshCompletion is the front of the zsh script (see genZsh).
const gitZshCompletion = `
# git-covenant <TAB>, and git covenant <TAB> from zsh's git completion.
__git-covenant_via_git()
{
	git "${__git_covenant_C[@]}" covenant "$@"
}

_git-covenant()
{
	local -a __git_covenant_C
	if [[ ${words[1]} == covenant ]]; then
		(( ${+opt_args[-C]} )) && __git_covenant_C=(-C "${(Q)${~opt_args[-C]}}")
		words[1]=__git-covenant_via_git
	fi
	__git-covenant_complete "$@"
}
`

// registerCompletions attaches value completion to the commands of the
// tree: positional arguments and flag values.
func registerCompletions(root *cobra.Command, f *Factory) {
	cmd := func(path string) *cobra.Command {
		c, _, err := root.Find(strings.Fields(path))
		if err != nil || c == root {
			panic("registerCompletions: no command " + path) // a renamed command; tests catch it
		}
		return c
	}
	ids := f.completeTaskIDs
	for _, p := range []string{"task start", "task show", "task resume", "task done", "task heartbeat", "task release",
		"task escalate", "task resolve", "task trailers", "task handoff", "task comment", "task check"} {
		cmd(p).ValidArgsFunction = completeArgs(false, ids)
	}
	cmd("task move").ValidArgsFunction = completeArgs(false, ids, f.completeNextStates)
	cmd("task link").ValidArgsFunction = completeArgs(false, ids, fixed("blocks", "parent-of", "relates-to", "discovered-from"), ids)
	cmd("task review").ValidArgsFunction = completeArgs(false, ids, fixed("approve", "reject"))
	registered := f.completeRegistered
	cmd("cap grant").ValidArgsFunction = completeArgs(true, registered, scopes)
	cmd("cap check").ValidArgsFunction = completeArgs(false, registered, scopes)
	cmd("id rotate").ValidArgsFunction = completeArgs(false, registered)
	cmd("id revoke").ValidArgsFunction = completeArgs(false, registered)
	cmd("id show").ValidArgsFunction = completeArgs(false, f.completeOwnIdentities)
	remotes := f.completeRemotes
	cmd("sync").ValidArgsFunction = completeArgs(false, remotes)
	cmd("remote setup").ValidArgsFunction = completeArgs(false, remotes)
	var keys []string
	for _, k := range config.Keys {
		keys = append(keys, k.Name)
	}
	cmd("config").ValidArgsFunction = completeArgs(false, fixed(keys...))
	cmd("run").ValidArgsFunction = completeArgs(false, ids)

	flag := func(path, name string, fn completer) {
		c := root
		if path != "" {
			c = cmd(path)
		}
		err := c.RegisterFlagCompletionFunc(name, func(c *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return matching(fn(c.Context(), toComplete), toComplete), cobra.ShellCompDirectiveNoFileComp
		})
		if err != nil {
			panic(err)
		}
	}
	flag("", "as", f.completeOwnIdentities)
	flag("task list", "state", f.completeStates)
	flag("task start", "via", remotes)
	flag("task create", "priority", fixed("low", "medium", "high", "critical"))
	flag("task handoff", "validation", fixed("passed", "failed", "not-run"))
	flag("task escalate", "kind", fixed("credentials", "destructive", "production", "decision"))
	flag("task review", "gate", f.completeGates("approval"))
	flag("task check", "gate", f.completeGates("check"))
	flag("verify", "format", fixed("text", "json", "github"))
	flag("cap list", "identity", registered)
	for _, p := range []string{"log", "cap check", "provenance record"} {
		flag(p, "task", ids)
	}
	for _, p := range []string{"daemon run", "daemon start"} {
		flag(p, "sync", remotes)
		flag(p, "identity", registered)
	}
	for _, p := range []string{"id new", "id import", "id register"} {
		flag(p, "role", fixed("human", "agent", "daemon"))
	}
}

// A completer returns candidate values for what is being completed.
type completer func(ctx context.Context, toComplete string) []string

// completeArgs completes positional arguments, one completer per
// position; with repeat the last one serves every later position.
func completeArgs(repeat bool, byPos ...completer) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		i := len(args)
		if i >= len(byPos) {
			if !repeat {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			i = len(byPos) - 1
		}
		return matching(byPos[i](withArgs(c.Context(), args), toComplete), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

type argsKey struct{}

// withArgs passes the arguments before the one being completed to a
// completer (task move completes the states its task can move to).
func withArgs(ctx context.Context, args []string) context.Context {
	return context.WithValue(ctx, argsKey{}, args)
}

func matching(cands []string, prefix string) []string {
	out := cands[:0]
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func fixed(vals ...string) completer {
	return func(context.Context, string) []string { return append([]string(nil), vals...) }
}

func scopes(context.Context, string) []string {
	var out []string
	for _, s := range trust.Scopes {
		out = append(out, s.Name)
	}
	return out
}

func (f *Factory) completeTaskIDs(ctx context.Context, prefix string) []string {
	svc, err := f.Service(ctx)
	if err != nil {
		return nil
	}
	var out []string
	_ = svc.EachTask(ctx, true, func(_ []byte, s *tasks.Summary) error {
		if s != nil && strings.HasPrefix(s.ID, prefix) {
			out = append(out, s.ID)
		}
		return nil
	})
	return out
}

func (f *Factory) workflow(ctx context.Context) *tasks.Workflow {
	svc, err := f.Service(ctx)
	if err != nil {
		return nil
	}
	wf, err := svc.Workflow()
	if err != nil {
		return nil
	}
	return wf
}

func (f *Factory) completeStates(ctx context.Context, _ string) []string {
	if wf := f.workflow(ctx); wf != nil {
		return append([]string(nil), wf.States...)
	}
	return nil
}

// completeNextStates offers the states the task named before can move
// to, else every state.
func (f *Factory) completeNextStates(ctx context.Context, prefix string) []string {
	wf := f.workflow(ctx)
	if wf == nil {
		return nil
	}
	args, _ := ctx.Value(argsKey{}).([]string)
	svc, _ := f.Service(ctx)
	if len(args) == 0 || svc == nil {
		return append([]string(nil), wf.States...)
	}
	t, err := svc.Task(ctx, args[0])
	if err != nil {
		return append([]string(nil), wf.States...)
	}
	var out []string
	for _, tr := range wf.Transitions {
		if contains(tr.From, t.State) && !contains(out, tr.To) {
			out = append(out, tr.To)
		}
	}
	return out
}

func (f *Factory) completeGates(kind string) completer {
	return func(ctx context.Context, _ string) []string {
		wf := f.workflow(ctx)
		if wf == nil {
			return nil
		}
		var out []string
		for _, g := range wf.Gates {
			if g.Kind == kind {
				out = append(out, g.Name)
			}
		}
		return out
	}
}

// completeRegistered offers the identities the repository knows.
func (f *Factory) completeRegistered(ctx context.Context, _ string) []string {
	svc, err := f.Service(ctx)
	if err != nil {
		return nil
	}
	rep, err := svc.Trust(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range rep.Identities {
		out = append(out, p.Name)
	}
	return out
}

// completeOwnIdentities offers the identities in the local keystore.
func (f *Factory) completeOwnIdentities(context.Context, string) []string {
	ks, err := f.Keystore()
	if err != nil {
		return nil
	}
	ids, err := ks.List()
	if err != nil {
		return nil
	}
	var out []string
	for _, id := range ids {
		out = append(out, id.Name)
	}
	return out
}

func (f *Factory) completeRemotes(ctx context.Context, _ string) []string {
	svc, err := f.Service(ctx)
	if err != nil {
		return nil
	}
	rs, err := svc.Remotes(ctx)
	if err != nil {
		return nil
	}
	return rs
}
