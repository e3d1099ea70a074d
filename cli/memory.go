package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/memory"
	"github.com/spf13/cobra"
)

func newCmdMemory(f *Factory) *cobra.Command {
	c := &cobra.Command{Use: "memory <command>", Short: "Keep shared memory across sessions: working, episodic and long-term tiers",
		Long: `Memories are signed ops in your feed, in three tiers: working notes for a task
in progress, episodic accounts of what happened, and long-term project
knowledge. A memory may be tied to a task, tagged, and pinned to files (path
and blob), so 'memory drift' can tell when it may be out of date and
'memory compact' can apply the [memory] policy of the config. task start,
task resume and prime show the memories relevant to the work, ranked. Any
secret in a memory's text is redacted before it is signed.`}
	c.AddCommand(newCmdMemoryAdd(f, nil), newCmdMemoryList(f, nil), newCmdMemoryShow(f, nil), newCmdMemorySearch(f, nil),
		newCmdMemoryChange(f, nil, "forget"), newCmdMemoryChange(f, nil, "restore"), newCmdMemoryDrift(f, nil), newCmdMemoryCompact(f, nil))
	return c
}

type memoryAddOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)
	Dir     string // the working directory --pin paths are relative to

	Tier, Text, Task string
	Pins             []string // path or path@rev, as given
	Tags             []string
	JSON             bool
}

func newCmdMemoryAdd(f *Factory, runF func(context.Context, *memoryAddOptions) error) *cobra.Command {
	o := &memoryAddOptions{Out: f.Out, Service: f.Service, Dir: f.Dir}
	c := &cobra.Command{
		Use:   "add --tier {working | episodic | longterm} --text <text> [--task <id>] [--pin <path>[@<rev>]]... [--tag <t>]...",
		Short: "Add a memory",
		Long: `Add a memory, signed in your feed. --pin ties it to a file: the working-tree
file's blob, or with @<rev> the blob the path has in that revision; only the
path and the blob id are recorded. Writing needs the tier's scope
(memory.working, memory.episodic, memory.longterm) or memory.write.`,
		Example: "  $ git covenant memory add --tier longterm --text \"integration tests need docker\" --tag ci\n" +
			"  $ git covenant memory add --tier working --task 3f2a --text \"parser half done\" --pin parse.go",
		Args: exactArgs(0, "no arguments (use --text)"),
		RunE: func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runMemoryAdd) },
	}
	c.Flags().StringVar(&o.Tier, "tier", "", "working, episodic or longterm (required)")
	c.Flags().StringVar(&o.Text, "text", "", "the memory (required)")
	c.Flags().StringVar(&o.Task, "task", "", "the task it is about")
	c.Flags().StringArrayVar(&o.Pins, "pin", nil, "file to pin, path or path@rev (repeatable)")
	c.Flags().StringArrayVar(&o.Tags, "tag", nil, "tag (repeatable)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the memory as JSON")
	return c
}

func runMemoryAdd(ctx context.Context, o *memoryAddOptions) error {
	if o.Tier == "" || o.Text == "" {
		return usagef("memory add needs --tier and --text")
	}
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	req := covenant.MemoryAddRequest{Tier: o.Tier, Text: o.Text, Task: o.Task, Tags: o.Tags}
	for _, p := range o.Pins {
		path, rev := p, ""
		if i := strings.LastIndexByte(p, '@'); i > 0 {
			path, rev = p[:i], p[i+1:]
			if rev == "" {
				return usagef("--pin %s: name a revision after @", p)
			}
		}
		var rel string
		if rev == "" {
			rel, err = repoRelative(svc.WorkTree(), o.Dir, path)
		} else {
			rel, err = pinRelative(svc.WorkTree(), o.Dir, path)
		}
		if err != nil {
			return err
		}
		req.Pins = append(req.Pins, covenant.PinSpec{Path: rel, Rev: rev})
	}
	m, err := svc.AddMemory(ctx, req)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, m)
	}
	fmt.Fprintln(o.Out, m.ID)
	return nil
}

// pinRelative makes a path of a revision relative to the top of the
// working tree (from the current directory), without needing the file now.
func pinRelative(top, cwd, p string) (string, error) {
	if top == "" || filepath.IsAbs(p) {
		if filepath.IsAbs(p) {
			return "", usagef("--pin %s: give a path relative to the repository", p)
		}
		return filepath.ToSlash(filepath.Clean(p)), nil
	}
	rel, err := filepath.Rel(top, filepath.Join(cwd, p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", usagef("--pin %s is outside the repository", p)
	}
	return filepath.ToSlash(rel), nil
}

type memoryListOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Filter covenant.MemoryFilter
	JSON   bool
}

func newCmdMemoryList(f *Factory, runF func(context.Context, *memoryListOptions) error) *cobra.Command {
	o := &memoryListOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "list [--tier <tier>] [--task <id>] [--tag <t>] [--all] [--json]",
		Short:   "List memories, newest first",
		Example: "  $ git covenant memory list --tier longterm\n  $ git covenant memory list --task 3f2a --all --json",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runMemoryList) },
	}
	c.Flags().StringVar(&o.Filter.Tier, "tier", "", "only this tier")
	c.Flags().StringVar(&o.Filter.Task, "task", "", "only memories of this task")
	c.Flags().StringVar(&o.Filter.Tag, "tag", "", "only memories with this tag")
	c.Flags().BoolVar(&o.Filter.All, "all", false, "forgotten memories too")
	c.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return c
}

func runMemoryList(ctx context.Context, o *memoryListOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	ms, err := svc.Memories(ctx, o.Filter)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, ms)
	}
	for i := range ms {
		fmt.Fprintln(o.Out, memoryLine(&ms[i]))
	}
	return nil
}

// memoryLine is a memory on one line.
func memoryLine(m *memory.Memory) string {
	text := strings.Join(strings.Fields(m.Text), " ")
	if len(text) > 72 {
		text = text[:69] + "..."
	}
	s := fmt.Sprintf("%s  %-8s  %s", m.ID, m.Tier, text)
	if m.Stale != nil {
		s += "  [stale]"
	}
	if m.Forgotten != nil {
		s += "  [forgotten]"
	}
	return s
}

type memoryShowOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	ID   string
	JSON bool
}

func newCmdMemoryShow(f *Factory, runF func(context.Context, *memoryShowOptions) error) *cobra.Command {
	o := &memoryShowOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "show <id> [--json]",
		Short:   "Show a memory, forgotten or not, and what changed it",
		Example: "  $ git covenant memory show mem-1a2b",
		Args:    exactArgs(1, "one memory <id>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.ID = args[0]
			return runCmd(c, o, runF, runMemoryShow)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the memory as JSON")
	return c
}

func runMemoryShow(ctx context.Context, o *memoryShowOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	m, err := svc.Memory(ctx, o.ID)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, m)
	}
	w := o.Out
	fmt.Fprintf(w, "%s  %s memory by %s at %s\n", m.ID, m.Tier, m.By.Name, m.At.Format("2006-01-02 15:04:05Z07:00"))
	if m.Forgotten != nil {
		fmt.Fprintf(w, "FORGOTTEN by %s at %s: %s (git covenant memory restore %s brings it back)\n", m.Forgotten.By.Name, m.Forgotten.At.Format("2006-01-02 15:04:05Z07:00"), m.Forgotten.Reason, m.ID)
	}
	if m.Stale != nil {
		fmt.Fprintf(w, "STALE since %s: %s\n", m.Stale.At.Format("2006-01-02 15:04:05Z07:00"), m.Stale.Reason)
	}
	if m.Task != "" {
		fmt.Fprintf(w, "task: %s\n", m.Task)
	}
	if len(m.Tags) > 0 {
		fmt.Fprintf(w, "tags: %s\n", strings.Join(m.Tags, ", "))
	}
	for _, p := range m.Pins {
		fmt.Fprintf(w, "pin:  %s@%s\n", p.Path, p.Blob)
	}
	fmt.Fprintf(w, "\n%s\n", m.Text)
	if len(m.Changes) > 0 {
		fmt.Fprintln(w, "\nchanges:")
		for _, c := range m.Changes {
			fmt.Fprintf(w, "  %s  %s by %s: %s\n", c.At.Format("2006-01-02 15:04:05Z07:00"), c.Type, c.By.Name, c.Reason)
		}
	}
	return nil
}

type memorySearchOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Query string
	Limit int
	All   bool
	JSON  bool
}

func newCmdMemorySearch(f *Factory, runF func(context.Context, *memorySearchOptions) error) *cobra.Command {
	o := &memorySearchOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "search <words>... [--limit <n>] [--all] [--json]",
		Short:   "Find memories holding every word, best first",
		Example: "  $ git covenant memory search docker integration",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s takes the words to search for", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			o.Query = strings.Join(args, " ")
			return runCmd(c, o, runF, runMemorySearch)
		},
	}
	c.Flags().IntVar(&o.Limit, "limit", 20, "at most this many results")
	c.Flags().BoolVar(&o.All, "all", false, "forgotten memories too")
	c.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return c
}

func runMemorySearch(ctx context.Context, o *memorySearchOptions) error {
	if o.Limit < 1 || o.Limit > 1000 {
		return usagef("--limit %d: give 1 to 1000", o.Limit)
	}
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	hits, err := svc.SearchMemories(ctx, o.Query, o.Limit, o.All)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, hits)
	}
	for i := range hits {
		fmt.Fprintln(o.Out, memoryLine(&hits[i].Memory))
	}
	return nil
}

type memoryChangeOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Op     string // memory.forget or memory.restore
	ID     string
	Reason string
	JSON   bool
}

// newCmdMemoryChange builds memory forget and memory restore.
func newCmdMemoryChange(f *Factory, runF func(context.Context, *memoryChangeOptions) error, verb string) *cobra.Command {
	o := &memoryChangeOptions{Out: f.Out, Service: f.Service, Op: "memory." + verb}
	c := &cobra.Command{
		Use:     verb + " <id> --reason <text> [--json]",
		Short:   "Forget a memory (history keeps it; restore brings it back)",
		Example: "  $ git covenant memory forget mem-1a2b --reason \"the docker requirement is gone\"",
		Args:    exactArgs(1, "one memory <id>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.ID = args[0]
			return runCmd(c, o, runF, runMemoryChange)
		},
	}
	if verb == "restore" {
		c.Short = "Restore a forgotten memory"
		c.Example = "  $ git covenant memory restore mem-1a2b --reason \"still true\""
	}
	c.Flags().StringVar(&o.Reason, "reason", "", "why (required)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the memory as JSON")
	return c
}

func runMemoryChange(ctx context.Context, o *memoryChangeOptions) error {
	if strings.TrimSpace(o.Reason) == "" {
		return usagef("%s needs --reason", strings.Replace(o.Op, ".", " ", 1))
	}
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	m, err := svc.ChangeMemory(ctx, o.Op, memory.ChangeBody{ID: o.ID, Reason: o.Reason})
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, m)
	}
	fmt.Fprintln(o.Out, memoryLine(m))
	return nil
}

type memoryDriftOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdMemoryDrift(f *Factory, runF func(context.Context, *memoryDriftOptions) error) *cobra.Command {
	o := &memoryDriftOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "drift [--json]",
		Short: "Report memories that may be out of date",
		Long: `Report live memories that may be out of date: pinned files whose blob changed
(pin-changed), working memories of finished or cancelled tasks (task-ended),
memories whose author was revoked (author-revoked), memories a newer one
pinning the same file supersedes (superseded), and references to tasks or
files that no longer exist (dangling). 'memory compact' acts on them.`,
		Example: "  $ git covenant memory drift",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runMemoryDrift) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return c
}

func runMemoryDrift(ctx context.Context, o *memoryDriftOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	ds, err := svc.MemoryDrift(ctx)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, ds)
	}
	for _, d := range ds {
		fmt.Fprintf(o.Out, "%s  %-14s  %s\n", d.Memory, d.Kind, d.Detail)
	}
	return nil
}

type memoryCompactOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	DryRun bool
	JSON   bool
}

func newCmdMemoryCompact(f *Factory, runF func(context.Context, *memoryCompactOptions) error) *cobra.Command {
	o := &memoryCompactOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "compact [--dry-run] [--json]",
		Short: "Apply the [memory] policy: drop, forget, promote or mark memories as signed ops",
		Long: `Apply the [memory] policy of .covenant/config.toml as one batch of signed ops:
working memories of a finished or cancelled task are forgotten (working =
"drop"), episodic memories older than episodic_days are forgotten or promoted
to long-term (episodic = "forget" or "promote"), and long-term memories whose
pinned files changed are marked stale (longterm_drift = "stale"). Nothing is
erased: history keeps every memory, and 'memory restore' undoes a forget.`,
		Example: "  $ git covenant memory compact --dry-run\n  $ git covenant memory compact",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runMemoryCompact) },
	}
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "say what would be done, write nothing")
	c.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return c
}

func runMemoryCompact(ctx context.Context, o *memoryCompactOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	rep, err := svc.CompactMemories(ctx, o.DryRun)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, rep)
	}
	for _, a := range rep.Actions {
		fmt.Fprintf(o.Out, "%s  %-10s  %s\n", a.Memory, a.Action, a.Reason)
	}
	if o.DryRun {
		fmt.Fprintf(o.Out, "%d action(s); nothing written (--dry-run).\n", len(rep.Actions))
	} else {
		fmt.Fprintf(o.Out, "%d op(s) written.\n", rep.Written)
	}
	return nil
}
