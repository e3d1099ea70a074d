package cli

import (
	"context"
	"errors"
	"io"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/gateway"
	"github.com/git-covenant/git-covenant/mcpserver"
	"github.com/git-covenant/git-covenant/mcpserver/runtoken"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"
)

type mcpOptions struct {
	In      io.Reader
	Out     io.Writer
	Getenv  func(string) string
	Service func(context.Context) (*covenant.Service, error)

	ReadOnly     bool
	Identity     string
	RunTokenFile string
}

func newCmdMCP(f *Factory, runF func(context.Context, *mcpOptions) error) *cobra.Command {
	o := &mcpOptions{In: f.In, Out: f.Out, Getenv: f.Getenv, Service: f.Service}
	c := &cobra.Command{
		Use:   "mcp [--read-only] [--identity <name>] [--run-token-file <path>]",
		Short: "Serve the Model Context Protocol over stdio for an agent",
		Long: `Serve MCP (JSON-RPC over stdin and stdout) so that an agent works through
tools: covenant_read (prime, ready, show, resume, log, verify), covenant_write
(claim, heartbeat, handoff, move, comment, escalate) and covenant_check (run a
command as a check gate's evidence). Each write is checked against the acting
identity's capabilities before anything happens; a refusal is a tool error
naming the missing scope.

The server acts as --identity (default: --as, $GIT_COVENANT_AS, else the
first identity created), signing with its key. Inside a daemon run
($GIT_COVENANT_RUN_TOKEN_FILE is set, or --run-token-file) it acts for the
run instead: on the run's task only, under its lease epoch, and the daemon
signs. --read-only lists the read tool alone.`,
		Example: `  $ git covenant mcp --identity builder-1
  $ git covenant mcp --read-only`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			if o.RunTokenFile == "" {
				o.RunTokenFile = o.Getenv("GIT_COVENANT_RUN_TOKEN_FILE")
			}
			if o.RunTokenFile != "" && o.Identity != "" {
				return usagef("--identity and a run token exclude each other: a run acts as its own identity")
			}
			return runCmd(c, o, runF, runMCP)
		},
	}
	c.Flags().BoolVar(&o.ReadOnly, "read-only", false, "offer only the read tool")
	c.Flags().StringVar(&o.Identity, "identity", "", "act as this identity (default: the acting one)")
	c.Flags().StringVar(&o.RunTokenFile, "run-token-file", "", "act for the daemon run whose token is in this file (default: $GIT_COVENANT_RUN_TOKEN_FILE)")
	return c
}

func runMCP(ctx context.Context, o *mcpOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	opts := mcpserver.Options{Identity: o.Identity, ReadOnly: o.ReadOnly, Exec: true, Version: Version}
	if o.RunTokenFile != "" {
		run, err := runtoken.FromFile(o.Getenv("GIT_COVENANT_SOCKET"), o.RunTokenFile)
		if err != nil {
			return err
		}
		opts.Run = run
	}
	srv := mcpserver.New(svc, opts)
	err = srv.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(o.In), Writer: nopCloser{o.Out}})
	if errors.Is(err, io.EOF) && ctx.Err() == nil {
		return nil // the client closed stdin: the session is over
	}
	return err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// withMCP mounts the MCP streamable-HTTP endpoint (gateway.MCP: the tools
// of git covenant mcp, acting as the token's operator) at /mcp on the
// daemon's HTTP gateway, behind its token check.
func withMCP(h daemon.HTTPOptions, svc *covenant.Service) daemon.HTTPOptions {
	if h.Off {
		return h
	}
	h.Mounts = append(h.Mounts, gateway.MCP(svc, Version))
	return h
}
