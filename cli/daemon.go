package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
	"github.com/spf13/cobra"
)

func newCmdDaemon(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "daemon <command>",
		Short: "Run the daemon that dispatches agents to ready tasks",
		Long: `The daemon watches this clone's feeds and dispatches ready tasks to the
agents of .covenant/agents/*.toml: each task is claimed under the agent's own
identity and lease, run in a worktree on branch covenant/<task-id>, and ends in
a run record signed by the daemon's identity (role daemon, created and
registered on first start), a move and a handoff. One daemon per clone; its
lock, log, socket and run state are in .git/covenant/.`,
	}
	c.AddCommand(newCmdDaemonRun(f, nil), newCmdDaemonStart(f, nil), newCmdDaemonStop(f, nil), newCmdDaemonStatus(f, nil))
	return c
}

// daemonFlags are the settings `daemon run` and `daemon start` share.
type daemonFlags struct {
	Identity string
	Sync     string
	Every    time.Duration
	Poll     time.Duration
	NoWatch  bool
	// The HTTP gateway: its address ("off": none), TLS certificate and key.
	HTTP, HTTPCert, HTTPKey string
}

func (fl *daemonFlags) add(c *cobra.Command, every, poll *string) {
	c.Flags().StringVar(&fl.Identity, "identity", "", "the daemon's identity (default: daemon-<hash of host and clone>)")
	c.Flags().StringVar(&fl.Sync, "sync", "", "claim strongly through this remote and sync with it")
	c.Flags().StringVar(every, "every", "", "sync with --sync's remote this often (e.g. 30s)")
	c.Flags().StringVar(poll, "poll", daemon.DefaultPoll.String(), "scan this often whatever the file watcher says")
	c.Flags().BoolVar(&fl.NoWatch, "no-watch", false, "do not watch the refs with inotify; poll only")
	c.Flags().StringVar(&fl.HTTP, "http", "", "serve the HTTP gateway at host:port (default 127.0.0.1 and a free port; off: none)")
	c.Flags().StringVar(&fl.HTTPCert, "http-cert", "", "TLS certificate file of the HTTP gateway (needed off loopback)")
	c.Flags().StringVar(&fl.HTTPKey, "http-key", "", "TLS key file of the HTTP gateway")
}

// httpOptions are the HTTP gateway's settings.
func (fl *daemonFlags) httpOptions() daemon.HTTPOptions {
	if fl.HTTP == "off" {
		return daemon.HTTPOptions{Off: true}
	}
	return daemon.HTTPOptions{Addr: fl.HTTP, CertFile: fl.HTTPCert, KeyFile: fl.HTTPKey}
}

func (fl *daemonFlags) parse(every, poll string) error {
	var err error
	if every != "" {
		if fl.Sync == "" {
			return usagef("--every needs --sync <remote>")
		}
		if fl.Every, err = time.ParseDuration(every); err != nil || fl.Every <= 0 {
			return usagef("--every %q is not a positive duration (try 30s or 5m)", every)
		}
	}
	if fl.Poll, err = time.ParseDuration(poll); err != nil || fl.Poll <= 0 {
		return usagef("--poll %q is not a positive duration (try 2s)", poll)
	}
	return nil
}

// args renders the flags for the detached `daemon run`.
func (fl *daemonFlags) args() []string {
	var a []string
	if fl.Identity != "" {
		a = append(a, "--identity", fl.Identity)
	}
	if fl.Sync != "" {
		a = append(a, "--sync", fl.Sync)
	}
	if fl.Every > 0 {
		a = append(a, "--every", fl.Every.String())
	}
	a = append(a, "--poll", fl.Poll.String())
	if fl.NoWatch {
		a = append(a, "--no-watch")
	}
	for _, kv := range [][2]string{{"--http", fl.HTTP}, {"--http-cert", fl.HTTPCert}, {"--http-key", fl.HTTPKey}} {
		if kv[1] != "" {
			a = append(a, kv[0], kv[1])
		}
	}
	return a
}

type daemonRunOptions struct {
	Err     io.Writer
	Env     []string
	Getenv  func(string) string
	Service func(context.Context) (*covenant.Service, error)

	Flags daemonFlags
	Log   string // a file to log to (rotated) instead of stderr
}

func newCmdDaemonRun(f *Factory, runF func(context.Context, *daemonRunOptions) error) *cobra.Command {
	o := &daemonRunOptions{Err: f.Err, Env: f.Env, Getenv: f.Getenv, Service: f.Service}
	var every, poll string
	c := &cobra.Command{
		Use:   "run [--identity <name>] [--sync <remote> [--every <duration>]] [--poll <duration>] [--log <file>]",
		Short: "Run the daemon in the foreground until SIGINT or SIGTERM",
		Long: `Run the daemon in the foreground, logging to stderr (or --log, rotated at
10 MiB). SIGHUP reloads the agent manifests; a manifest set with any problem
is refused and the previous one kept. SIGINT or SIGTERM drains: running
agents get SIGTERM, then SIGKILL after their grace; each run is recorded and
handed off, and the daemon exits 0.`,
		Example: `  $ git covenant daemon run
  $ git covenant daemon run --sync origin --every 30s`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.Flags.parse(every, poll); err != nil {
				return err
			}
			return runCmd(c, o, runF, runDaemonRun)
		},
	}
	o.Flags.add(c, &every, &poll)
	c.Flags().StringVar(&o.Log, "log", "", "log to this file (rotated) instead of stderr")
	return c
}

func runDaemonRun(ctx context.Context, o *daemonRunOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	var log io.Writer = o.Err
	if o.Log != "" {
		rl, err := daemon.OpenLog(o.Log, daemon.DefaultLogMax)
		if err != nil {
			return err
		}
		defer rl.Close()
		log = rl
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	d, err := daemon.New(daemon.Options{Service: svc, Identity: o.Flags.Identity, Env: o.Env, Log: log,
		LoadAgents: daemon.LoadManifests(svc, o.Getenv("HOME")), Poll: o.Flags.Poll, NoWatch: o.Flags.NoWatch,
		Sync: o.Flags.Sync, SyncEvery: o.Flags.Every, Reload: reload, HTTP: withMCP(withA2A(o.Flags.httpOptions(), svc), svc)})
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

type daemonStartOptions struct {
	Out     io.Writer
	Env     []string
	As      string
	Service func(context.Context) (*covenant.Service, error)

	Flags daemonFlags
	Wait  time.Duration
}

func newCmdDaemonStart(f *Factory, runF func(context.Context, *daemonStartOptions) error) *cobra.Command {
	o := &daemonStartOptions{Out: f.Out, Env: f.Env, Service: f.Service}
	var every, poll string
	c := &cobra.Command{
		Use:   "start [--identity <name>] [--sync <remote> [--every <duration>]] [--poll <duration>]",
		Short: "Start the daemon in the background, logging to .git/covenant/daemon.log",
		Long: `Start the daemon detached from the terminal (its own session), logging to
.git/covenant/daemon.log (rotated at 10 MiB, the previous log kept as
daemon.log.1), and return once it answers on its socket. If a daemon already
runs for this clone, it fails with exit status 5 and names it.`,
		Example: `  $ git covenant daemon start
  $ git covenant daemon status`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.Flags.parse(every, poll); err != nil {
				return err
			}
			o.As = f.As
			return runCmd(c, o, runF, runDaemonStart)
		},
	}
	o.Flags.add(c, &every, &poll)
	c.Flags().DurationVar(&o.Wait, "wait", 30*time.Second, "how long to wait for the daemon to answer")
	return c
}

func runDaemonStart(ctx context.Context, o *daemonStartOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	if _, err := svc.Workflow(); err != nil { // refuse a repository that is not a covenant one here, not in the log
		return err
	}
	cov, err := svc.CovenantDir()
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"daemon", "run", "--log", daemon.LogPath(cov)}
	if o.As != "" {
		args = append(args, "--as", o.As)
	}
	args = append(args, o.Flags.args()...)
	st, err := daemon.Detach(ctx, exe, args, o.Env, cov, daemon.SocketPath(cov, "daemon.sock"), o.Wait)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "daemon started: pid %d, identity %s, %d agent(s); log %s\n", st.Pid, st.Identity, len(st.Agents), daemon.LogPath(cov))
	return nil
}

type daemonStopOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Wait time.Duration
}

func newCmdDaemonStop(f *Factory, runF func(context.Context, *daemonStopOptions) error) *cobra.Command {
	o := &daemonStopOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "stop [--wait <duration>]",
		Short: "Stop the daemon: drain its runs, then exit",
		Long: `Ask the daemon to stop: running agents get SIGTERM, then SIGKILL after their
grace; each run is recorded and its task handed off with a checkpoint, and
the daemon exits. Waits until it has let go of its lock.`,
		Example: `  $ git covenant daemon stop`,
		Args:    cobra.NoArgs,
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runDaemonStop) },
	}
	c.Flags().DurationVar(&o.Wait, "wait", 5*time.Minute, "how long to wait for the drain")
	return c
}

func runDaemonStop(ctx context.Context, o *daemonStopOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	cov, err := svc.CovenantDir()
	if err != nil {
		return err
	}
	h, err := daemon.Stop(ctx, cov, daemon.SocketPath(cov, "daemon.sock"), o.Wait)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "daemon stopped (pid %d)\n", h.Process.Pid)
	return nil
}

type daemonStatusOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdDaemonStatus(f *Factory, runF func(context.Context, *daemonStatusOptions) error) *cobra.Command {
	o := &daemonStatusOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "status [--json]",
		Short:   "Show the daemon's pid, uptime, identity, agents, runs and queue",
		Example: `  $ git covenant daemon status --json | jq .runs`,
		Args:    cobra.NoArgs,
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runDaemonStatus) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the status as JSON ({\"running\": false} when none runs)")
	return c
}

func runDaemonStatus(ctx context.Context, o *daemonStatusOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	cov, err := svc.CovenantDir()
	if err != nil {
		return err
	}
	st, err := daemon.QueryStatus(ctx, cov, daemon.SocketPath(cov, "daemon.sock"))
	if err != nil && !isNotRunning(err) {
		return err
	}
	if o.JSON {
		if st == nil {
			return printJSON(o.Out, &daemon.Status{Agents: []daemon.AgentStatus{}, Runs: []daemon.RunStatus{}, Sandbox: []string{}})
		}
		return printJSON(o.Out, st)
	}
	if st == nil {
		fmt.Fprintln(o.Out, "no daemon is running")
		return nil
	}
	fmt.Fprintf(o.Out, "daemon pid %d, up %s, identity %s\n", st.Pid, st.Uptime, st.Identity)
	fmt.Fprintf(o.Out, "queue: %d ready task(s); sandbox backends: %s\n", st.Queue, strings.Join(st.Sandbox, ", "))
	if st.HTTP != "" {
		fmt.Fprintf(o.Out, "http gateway: %s\n", st.HTTP)
	}
	for _, a := range st.Agents {
		fmt.Fprintf(o.Out, "agent %s (identity %s, labels %s): %d/%d running\n", a.Name, a.Identity, strings.Join(a.Labels, ","), a.Running, a.Max)
	}
	for _, r := range st.Runs {
		fmt.Fprintf(o.Out, "run %s: %s on %s (epoch %d, %s, pid %d)\n", r.Run, r.Agent, r.Task, r.Epoch, r.Phase, r.Pid)
	}
	return nil
}

func isNotRunning(err error) bool { return err != nil && errorsIs(err, daemon.ErrNotRunning) }
