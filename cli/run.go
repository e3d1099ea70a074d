package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/spf13/cobra"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

type runOptions struct {
	Out     io.Writer
	Err     io.Writer
	Env     []string
	Getenv  func(string) string
	Service func(context.Context) (*covenant.Service, error)

	Task     string
	Agent    string
	Identity string
	JSON     bool
}

func newCmdRun(f *Factory, runF func(context.Context, *runOptions) error) *cobra.Command {
	o := &runOptions{Out: f.Out, Err: f.Err, Env: f.Env, Getenv: f.Getenv, Service: f.Service}
	c := &cobra.Command{
		Use:   "run <task> [--agent <name>] [--json]",
		Short: "Run one agent on one task in the foreground, as the daemon would",
		Long: `Dispatch one task in the foreground through the daemon's own code, without a
daemon: the agent named (or the first manifest in .covenant/agents that takes
the task) claims it under its identity, runs in a worktree on branch
covenant/<task-id>, and the run ends in a run record signed by the daemon
identity, a move per the manifest and a handoff. Ctrl-C stops the agent; the
run is still recorded. Prints the run record.`,
		Example: `  $ git covenant run tk-3f2a --agent bot
  $ git covenant run tk-3f2a --json | jq .exit_code`,
		Args: exactArgs(1, "one <task>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Task = args[0]
			return runCmd(c, o, runF, runRun)
		},
	}
	c.Flags().StringVar(&o.Agent, "agent", "", "the manifest to run (default: the first that takes the task)")
	c.Flags().StringVar(&o.Identity, "identity", "", "the daemon identity that signs the run record")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the run record as JSON")
	return c
}

func runRun(ctx context.Context, o *runOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	d, err := daemon.New(daemon.Options{Service: svc, Identity: o.Identity, Env: o.Env, Log: o.Err,
		LoadAgents: daemon.LoadManifests(svc, o.Getenv("HOME")), CheckpointEvery: -1})
	if err != nil {
		return err
	}
	rec, err := d.RunTask(ctx, o.Task, o.Agent)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, rec)
	}
	fmt.Fprintf(o.Out, "%s\n", rec.Summary())
	fmt.Fprintf(o.Out, "task %s, epoch %d, %s, %d ms, output %d bytes (sha256 %s)\n", rec.Task, rec.Epoch, rec.Branch, rec.DurationMS, rec.OutputBytes, short(rec.OutputSHA256))
	return nil
}

// Inside a run (GIT_COVENANT_RUN_TOKEN_FILE is set) the agent holds no
// key: the task commands it may use go to the daemon's socket with the
// run's token, and the daemon checks and signs them. routeThroughDaemon
// makes those commands do that; every other command runs as usual (reads
// work, writes fail for want of a key).
func routeThroughDaemon(f *Factory, root *cobra.Command) {
	for _, name := range []string{"show", "heartbeat", "comment", "move", "handoff"} {
		c, _, err := root.Find([]string{"task", name})
		if err != nil || c == nil || c.Name() != name {
			continue
		}
		orig := c.RunE
		c.RunE = func(c *cobra.Command, args []string) error {
			tokFile := f.Getenv("GIT_COVENANT_RUN_TOKEN_FILE")
			if tokFile == "" {
				return orig(c, args)
			}
			return viaDaemon(c, f, tokFile, args)
		}
	}
}

// viaDaemon sends one task command to the daemon with the run's token.
func viaDaemon(c *cobra.Command, f *Factory, tokFile string, args []string) error {
	tok, err := daemon.ReadToken(tokFile)
	if err != nil {
		return fmt.Errorf("%w: run token: %v", daemon.ErrBadToken, err)
	}
	req := daemon.Request{Op: c.Name(), Token: tok}
	if len(args) > 0 {
		req.Task = args[0]
	}
	str := func(n string) string { v, _ := c.Flags().GetString(n); return v }
	arr := func(n string) []string { v, _ := c.Flags().GetStringArray(n); return v }
	switch c.Name() {
	case "comment":
		if len(args) < 2 {
			return usagef("task comment takes <id> <text>")
		}
		req.Text = strings.Join(args[1:], " ")
	case "move":
		if len(args) < 2 {
			return usagef("task move takes <id> <state>")
		}
		req.To, req.Note = args[1], str("note")
	case "heartbeat":
		req.TTL = str("ttl")
	case "handoff":
		keep, _ := c.Flags().GetBool("keep-lease")
		if len(arr("file")) > 0 {
			return usagef("inside a run, --file is not supported: commit the files on the run's branch")
		}
		req.Handoff = &tasks.Handoff{Summary: str("summary"), Next: arr("next"), Questions: arr("question"), KeepLease: keep,
			Validation: tasks.Validation{Status: str("validation"), Note: str("validation-note")}}
	}
	socket := f.Getenv("GIT_COVENANT_SOCKET")
	ctx, cancel := context.WithTimeout(c.Context(), 2*time.Minute)
	defer cancel()
	var out map[string]any
	if err := daemon.Call(ctx, socket, req, &out); err != nil {
		return err
	}
	if j, _ := c.Flags().GetBool("json"); j || c.Name() == "show" {
		return printJSON(f.Out, out)
	}
	if id, ok := out["id"].(string); ok {
		fmt.Fprintf(f.Out, "%s %s (through the daemon)\n", c.Name(), id)
	}
	return nil
}
