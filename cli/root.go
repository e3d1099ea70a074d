// Package cli wires git-covenant's commands: a thin shell over the
// covenant Service. It parses the command line, calls the Service, prints
// the result, and is the only package that turns errors into text and exit
// statuses (exit.go). It imports covenant and the packages that define
// model and view types, never the index, the git store or the ledger.
//
// Every command has the same shape:
//
//   - an options struct, xOptions, holding first the dependencies the
//     command uses, injected from the Factory (Out io.Writer, Service
//     func(context.Context) (*covenant.Service, error), Now func()
//     time.Time, …; only those it uses), then the parsed flag and
//     argument values, already checked and converted (a duration, a role);
//   - a constructor, newCmdX(f *Factory, runF func(context.Context,
//     *xOptions) error) *cobra.Command, that fills the options from the
//     Factory and the command line and hands them to runF when it is not
//     nil (tests inject it to see what was parsed, without a repository),
//     else to runX (see runCmd);
//   - runX(ctx context.Context, o *xOptions) error, which does the work
//     through the options alone, never the Factory.
//
// Usage errors found while parsing (a malformed duration, a missing
// required flag) are returned by the constructor's RunE, before runF.
// Commands that only group subcommands (task, id, cap, …) have no run
// function and take the Factory alone: newCmdTask(f). No parameter is
// dead: a command that needs nothing from the Factory would take runF
// alone.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/git-covenant/git-covenant/safetext"
	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags.
var Version = "dev"

// Factory carries what commands need from the outside world, and opens
// the one Service a command runs against.
type Factory struct {
	In       io.Reader
	Out, Err io.Writer
	Getenv   func(string) string
	Env      []string // the whole environment, for the processes commands start
	Dir      string
	Now      func() time.Time
	As       string

	svc *covenant.Service
}

// Service opens the repository containing the working directory, once per
// run: every call returns the same handle. Main closes it.
func (f *Factory) Service(ctx context.Context) (*covenant.Service, error) {
	if f.svc != nil {
		return f.svc, nil
	}
	opts := covenant.Options{Dir: f.Dir, Getenv: f.Getenv, Env: f.Env, As: f.As, Now: f.Now, Log: f.Err}
	if isTerminal(f.Err) {
		opts.Progress = func(done, total int, what string) {
			const width = 30
			n := 0
			if total > 0 {
				n = done * width / total
			}
			fmt.Fprintf(f.Err, "\r[%s%s] %d/%d %s\x1b[K", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total, what)
			if done >= total {
				fmt.Fprint(f.Err, "\r\x1b[K")
			}
		}
	}
	svc, err := covenant.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	f.svc = svc
	return svc, nil
}

// close releases the Service, if one was opened.
func (f *Factory) close() {
	if f.svc != nil {
		f.svc.Close()
		f.svc = nil
	}
}

// Keystore opens the local keystore.
func (f *Factory) Keystore() (*identity.Keystore, error) {
	d, err := identity.DefaultDir(f.Getenv)
	if err != nil {
		return nil, err
	}
	return &identity.Keystore{Dir: d}, nil
}

// runCmd calls runF when a test injected it, else the command's own run.
func runCmd[O any](c *cobra.Command, o *O, runF, run func(context.Context, *O) error) error {
	if runF != nil {
		return runF(c.Context(), o)
	}
	return run(c.Context(), o)
}

// Main runs git-covenant with args and returns the exit status. A first
// SIGINT or SIGTERM cancels the command's context: the command stops, its
// deferred clean-up runs (temporary worktrees, child processes, locks),
// and Main returns 130. A second one returns 130 at once.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	dir, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "git-covenant: error: %v\n", err)
		return ExitError
	}
	// Human output shows text from others' feeds and commits: escape the
	// control characters in it (JSON keeps its meaning; see safetext).
	out := safetext.NewWriter(stdout)
	defer out.Flush()
	f := &Factory{In: stdin, Out: out, Err: stderr, Getenv: getenv, Env: os.Environ(), Dir: dir, Now: time.Now}
	if s := getenv("GIT_COVENANT_NOW"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			fmt.Fprintf(stderr, "git-covenant: error: GIT_COVENANT_NOW=%q is not an RFC 3339 time\n", s)
			return ExitUsage
		}
		f.Now = func() time.Time { return t }
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Every signal also lands here, so the second one is seen while the
	// command is still cleaning up after the first.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	root := NewCmdRoot(f)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	done := make(chan error, 1)
	var ran *cobra.Command
	go func() {
		defer f.close()
		var err error
		ran, err = root.ExecuteContextC(ctx)
		done <- err
	}()
	for n := 0; ; {
		select {
		case err = <-done:
		case <-sigs:
			if n++; n < 2 {
				continue
			}
			// The second signal: do not wait for clean-up. Writes are
			// atomic ref updates after all objects exist, so stopping
			// here leaves either the whole op or none of it.
			return report(stderr, errInterrupted, wantsJSON(nil, args))
		}
		break
	}
	if ctx.Err() != nil && err != nil {
		return report(stderr, errInterrupted, wantsJSON(ran, args))
	}
	return report(stderr, err, wantsJSON(ran, args))
}

// errInterrupted is what a cancelled command reports.
var errInterrupted = errors.New("interrupted")

// report prints err on stderr, as one error line and a hint, or with
// asJSON as one JSON object (docs/json.md, error/1), and returns the exit
// status.
func report(stderr io.Writer, err error, asJSON bool) int {
	if err == nil {
		return ExitOK
	}
	code, hint := ExitInterrupted, ""
	if err != errInterrupted {
		code, hint = classify(err)
	}
	msg := safetext.Escape(oneLine(err.Error()))
	if asJSON {
		printJSONError(stderr, code, msg, hint)
		return code
	}
	if _, ok := err.(verifyFailed); !ok {
		fmt.Fprintf(stderr, "git-covenant: error: %s\n", msg)
	}
	if hint != "" {
		fmt.Fprintf(stderr, "git-covenant: hint: %s\n", hint)
	}
	return code
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// NewCmdRoot builds the command tree.
func NewCmdRoot(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:         "git-covenant [--as <identity>] <command> [flags]",
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "git covenant"},
		Short:       "Govern software agents and the humans who direct them, with all state in git",
		Long: `git-covenant keeps task lifecycle, leases, handoffs, identities and the audit
chain as signed commits under refs/covenant/* in your repository. Every actor
signs its own operation feed; state is a deterministic fold of all feeds, so
every clone with the same refs computes the same state.

Start with 'git covenant init', then 'git covenant task create' and
'git covenant task start'. A fresh session resumes with 'git covenant task resume'.

Help: 'git covenant -h' and 'git covenant help <command>' are built in;
'git covenant --help' is git's 'man git-covenant', which needs the man pages
installed once ('git covenant gen-man', or 'make install'). Shell
completion: 'git covenant completion bash'.`,
		Example: `  $ git covenant init
  $ git covenant task create "Fix flaky login test" --label ci --priority high
  $ git covenant task start tk-3f2a9b1c0d4e --ttl 2h
  $ git covenant task handoff tk-3f2a --summary "root cause found" --next "add retry"
  $ git covenant task resume tk-3f2a
  $ git covenant verify`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.PersistentFlags().StringVar(&f.As, "as", "", "act as this identity (default: $GIT_COVENANT_AS, else the first identity created)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddGroup(&cobra.Group{ID: "work", Title: "Work on tasks:"}, &cobra.Group{ID: "setup", Title: "Set up:"}, &cobra.Group{ID: "audit", Title: "Audit:"})
	for _, c := range []*cobra.Command{newCmdInit(f, nil), newCmdID(f), newCmdCap(f), newCmdTrust(f), newCmdWorkflow(f), newCmdConfig(f, nil), newCmdHooks(f), newCmdAllowedSigners(f, nil), newCmdIndex(f), newCmdGenMan(f, nil), newCmdAgent(f), newCmdToken(f), newCmdDoctor(f, nil)} {
		c.GroupID = "setup"
		root.AddCommand(c)
	}
	t := newCmdTask(f)
	t.GroupID = "work"
	root.AddCommand(t)
	root.AddCommand(newCmdMemory(f), newCmdIgnore(f))                                                                                               // memory.go, ignore.go
	for _, c := range []*cobra.Command{newCmdRun(f, nil), newCmdDaemon(f), newCmdPrime(f, nil), newCmdA2A(f), newCmdMCP(f, nil), newCmdBudget(f)} { // run.go, daemon.go, prime.go, a2a.go, mcp.go, budget.go
		c.GroupID = "work"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newCmdLog(f, nil), newCmdVerify(f, nil), newCmdProvenance(f), newCmdAttest(f), newCmdReceipts(f), newCmdSettle(f)} { // receipts.go, settle.go
		c.GroupID = "audit"
		root.AddCommand(c)
	}
	root.AddCommand(newCmdsSync(f)...)
	root.AddCommand(newCmdExitCodes(f, nil), newCmdCompletion(f, nil), newCmdSandboxExec())
	rejectUnknownSubcommands(root)
	registerCompletions(root, f)
	routeThroughDaemon(f, root) // run.go: inside a run, task commands go to the daemon
	return root
}

type exitCodesOptions struct {
	Out io.Writer
}

func newCmdExitCodes(f *Factory, runF func(context.Context, *exitCodesOptions) error) *cobra.Command {
	o := &exitCodesOptions{Out: f.Out}
	return &cobra.Command{
		Use:   "exit-codes",
		Short: "List the exit statuses (also: git covenant help exit-codes)",
		Long:  exitCodesText(),
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return runCmd(c, o, runF, runExitCodes) },
	}
}

func runExitCodes(_ context.Context, o *exitCodesOptions) error {
	_, err := fmt.Fprint(o.Out, exitCodesText())
	return err
}

// exactArgs is cobra.ExactArgs with a usage error that names the arguments.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %s (got %d argument(s))", c.CommandPath(), names, len(args))
		}
		return nil
	}
}

func maxArgs(n int, names string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) > n {
			return usagef("%s takes at most %s (got %d arguments)", c.CommandPath(), names, len(args))
		}
		return nil
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// rejectUnknownSubcommands makes a command group (task, id, cap, …) fail
// with a usage error on an unknown subcommand, instead of printing its help
// and succeeding; with no arguments it prints its help.
func rejectUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		rejectUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Run != nil || c.RunE != nil || !c.HasParent() {
		return
	}
	c.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q for %q; see '%s --help'", args[0], c.CommandPath(), c.CommandPath())
		}
		return nil
	}
	c.RunE = func(c *cobra.Command, args []string) error { return c.Help() }
}
