package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/gateway"
	"github.com/git-covenant/git-covenant/mailbox"
	"github.com/git-covenant/git-covenant/mailbox/a2ahttp"
	"github.com/spf13/cobra"
)

// withA2A mounts the A2A endpoints (package mailbox/a2ahttp: an agent card
// and JSON-RPC per agent of .covenant/agents) at /a2a on the daemon's HTTP
// gateway, behind its token check.
func withA2A(h daemon.HTTPOptions, svc *covenant.Service) daemon.HTTPOptions {
	if h.Off {
		return h
	}
	h.Mounts = append(h.Mounts, gateway.Mount{Path: "/a2a", Methods: []string{"GET", "POST"},
		Summary: "A2A: GET /a2a/<agent>/.well-known/agent-card.json, POST /a2a/<agent> (JSON-RPC message/send, tasks/get)",
		Handler: a2ahttp.New(a2ahttp.Options{Service: svc, Prefix: "/a2a", Authenticate: a2ahttp.GatewayAuth})})
	return h
}

// The a2a commands: the leased mailbox between identities (package
// mailbox). Messages are signed ops; a recv claims one under a lease.

func newCmdA2A(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "a2a",
		Short: "Send, claim and answer messages between identities (the leased mailbox)",
		Long: `Messages between identities are signed ops, folded like tasks: queued, in
flight under a lease (holder, epoch, expiry, attempts), result pending once
the holder responds, resolved when the sender acknowledges; or failed. An
expired lease is retried per the [mailbox] policy in .covenant/config.toml
(min_lease_age, max_attempts, max_requeues), then the message fails.`,
		Example: `  $ git covenant a2a send reviewer --kind review --body "check tk-3f2a's handoff"
  $ git covenant a2a recv --as reviewer
  $ git covenant a2a respond msg-3f2a --result "looks right" --as reviewer
  $ git covenant a2a status msg-3f2a`,
	}
	c.AddCommand(newCmdA2ASend(f, nil), newCmdA2AInbox(f, nil), newCmdA2ARecv(f, nil), newCmdA2ARespond(f, nil),
		newCmdA2ARepair(f, nil, false), newCmdA2ARepair(f, nil, true), newCmdA2AAck(f, nil), newCmdA2ACancel(f, nil), newCmdA2AStatus(f, nil))
	return c
}

type a2aSendOptions struct {
	Out     io.Writer
	Err     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Req  covenant.SendRequest
	JSON bool
}

func newCmdA2ASend(f *Factory, runF func(context.Context, *a2aSendOptions) error) *cobra.Command {
	o := &a2aSendOptions{Out: f.Out, Err: f.Err, Service: f.Service}
	var deadline string
	c := &cobra.Command{
		Use:   "send <identity> --kind <k> --body <b> [--task <id>] [--deadline <d>] [--idempotency-key <k>] [--json]",
		Short: "Send a message to an identity",
		Long: `Send writes an a2a.send op: needs a2a.send.<identity> or a2a.send. --deadline
is an RFC 3339 time or a duration from now; after it the message can no
longer be claimed and fails. A second send with the same --idempotency-key
from the same identity writes nothing and prints the first message.`,
		Example: `  $ git covenant a2a send reviewer --kind review --body "check the handoff" --task tk-3f2a
  $ git covenant a2a send builder --kind build --body "make test" --deadline 30m --idempotency-key ci-42`,
		Args: exactArgs(1, "one recipient <identity>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Req.To = args[0]
			if deadline != "" {
				t, err := parseDeadline(deadline, f.Now())
				if err != nil {
					return err
				}
				o.Req.Deadline = t
			}
			if o.Req.Kind == "" || o.Req.Body == "" {
				return usagef("a2a send needs --kind and --body")
			}
			return runCmd(c, o, runF, runA2ASend)
		},
	}
	c.Flags().StringVar(&o.Req.Kind, "kind", "", "what the message asks for (review, build, …)")
	c.Flags().StringVar(&o.Req.Body, "body", "", "the message text")
	c.Flags().StringVar(&o.Req.Task, "task", "", "the task the message is about (id or prefix)")
	c.Flags().StringVar(&deadline, "deadline", "", "RFC 3339 time or duration from now (30m, 2h)")
	c.Flags().StringVar(&o.Req.IdempotencyKey, "idempotency-key", "", "a key that makes a repeated send return the first message")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the message as JSON")
	return c
}

func parseDeadline(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, usagef("--deadline %q is neither an RFC 3339 time nor a positive duration (try 30m or 2026-12-02T10:00:00Z)", s)
	}
	return now.Add(d), nil
}

func runA2ASend(ctx context.Context, o *a2aSendOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	v, err := svc.SendMessage(ctx, o.Req)
	if err != nil {
		return err
	}
	if v.Duplicate {
		fmt.Fprintf(o.Err, "note: idempotency key %q was used by %s; nothing was sent\n", v.IdempotencyKey, v.ID)
	}
	if o.JSON {
		return printJSON(o.Out, v)
	}
	_, err = fmt.Fprintln(o.Out, v.ID)
	return err
}

type a2aInboxOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdA2AInbox(f *Factory, runF func(context.Context, *a2aInboxOptions) error) *cobra.Command {
	o := &a2aInboxOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "inbox [--json]",
		Short:   "List the queued and in-flight messages to you",
		Example: "  $ git covenant a2a inbox --as reviewer\n  $ git covenant a2a inbox --json | jq '.[].id'",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, _ []string) error { return runCmd(c, o, runF, runA2AInbox) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array ([] when empty)")
	return c
}

func runA2AInbox(ctx context.Context, o *a2aInboxOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	vs, err := svc.Inbox(ctx)
	if err != nil {
		return err
	}
	return printMessages(o.Out, vs, o.JSON)
}

func printMessages(w io.Writer, vs []*covenant.MessageView, asJSON bool) error {
	if asJSON {
		return printJSON(w, vs)
	}
	for _, v := range vs {
		fmt.Fprintf(w, "%s  %-14s %-10s from %-12s to %-12s %s\n", v.ID, v.Status.State, v.Kind, v.From.Name, v.To, firstLine(v.Body, 60))
	}
	return nil
}

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func printMessage(w io.Writer, v *covenant.MessageView) {
	fmt.Fprintf(w, "%s  %s from %s to %s\n", v.ID, v.Kind, v.From.Name, v.To)
	st := v.Status.State
	if v.Status.Reason != "" {
		st += " (" + v.Status.Reason + ")"
	}
	fmt.Fprintf(w, "state:    %s\n", st)
	if v.Task != "" {
		fmt.Fprintf(w, "task:     %s\n", v.Task)
	}
	fmt.Fprintf(w, "sent:     %s\n", v.SentAt.Format(time.RFC3339))
	if v.Deadline != nil {
		fmt.Fprintf(w, "deadline: %s\n", v.Deadline.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "attempts: %d, requeues: %d\n", v.Attempts, v.Requeues)
	if v.Lease != nil && v.State == mailbox.InFlight {
		fmt.Fprintf(w, "lease:    %s, epoch %d, until %s\n", v.Lease.Holder, v.Lease.Epoch, v.Lease.ExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "\n%s\n", v.Body)
	if v.Result != nil {
		fmt.Fprintf(w, "\nresult (%s, epoch %d):\n%s\n", v.Result.By.Name, v.Result.Epoch, v.Result.Text)
	}
	if v.Error != nil {
		fmt.Fprintf(w, "\nerror (%s):\n%s\n", v.Error.By.Name, v.Error.Text)
	}
}

type a2aRecvOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	TTL  time.Duration
	JSON bool
}

func newCmdA2ARecv(f *Factory, runF func(context.Context, *a2aRecvOptions) error) *cobra.Command {
	o := &a2aRecvOptions{Out: f.Out, Service: f.Service}
	var ttl string
	c := &cobra.Command{
		Use:   "recv [--ttl <duration>] [--json]",
		Short: "Claim the oldest claimable message to you under a lease",
		Long: `Recv claims the oldest queued message to you (or one whose lease expired and
may be retried) under a new lease epoch, counting an attempt; needs
a2a.receive. Answer it with 'a2a respond' before the lease expires.`,
		Example: "  $ git covenant a2a recv --as reviewer --ttl 30m\n  $ git covenant a2a recv --json | jq -r .id",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			d, err := time.ParseDuration(ttl)
			if err != nil {
				return usagef("--ttl %q is not a duration (try 10m or 1h)", ttl)
			}
			o.TTL = d
			return runCmd(c, o, runF, runA2ARecv)
		},
	}
	c.Flags().StringVar(&ttl, "ttl", covenant.DefaultMessageTTL.String(), "lease length (Go duration: 10m, 1h)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the claimed message as JSON")
	return c
}

func runA2ARecv(ctx context.Context, o *a2aRecvOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	v, err := svc.RecvMessage(ctx, o.TTL)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, v)
	}
	printMessage(o.Out, v)
	return nil
}

type a2aRespondOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Message, Result string
	JSON            bool
}

func newCmdA2ARespond(f *Factory, runF func(context.Context, *a2aRespondOptions) error) *cobra.Command {
	o := &a2aRespondOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "respond <msg> --result <r> [--json]",
		Short:   "Answer a message you hold the lease of",
		Example: `  $ git covenant a2a respond msg-3f2a --result "approved" --as reviewer`,
		Args:    exactArgs(1, "one message <msg>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Message = args[0]
			if o.Result == "" {
				return usagef("a2a respond needs --result")
			}
			return runCmd(c, o, runF, runA2ARespond)
		},
	}
	c.Flags().StringVar(&o.Result, "result", "", "the result text")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the message as JSON")
	return c
}

func runA2ARespond(ctx context.Context, o *a2aRespondOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	v, err := svc.RespondMessage(ctx, o.Message, o.Result)
	if err != nil {
		return err
	}
	return printDone(o.Out, v, o.JSON)
}

func printDone(w io.Writer, v *covenant.MessageView, asJSON bool) error {
	if asJSON {
		return printJSON(w, v)
	}
	_, err := fmt.Fprintf(w, "%s %s\n", v.ID, v.Status.State)
	return err
}

type a2aRepairOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Message, Reason string
	Lease           uint64
	Fail, JSON      bool
}

// newCmdA2ARepair builds a2a requeue (fail false) and a2a force-error.
func newCmdA2ARepair(f *Factory, runF func(context.Context, *a2aRepairOptions) error, fail bool) *cobra.Command {
	o := &a2aRepairOptions{Out: f.Out, Service: f.Service, Fail: fail}
	var lease string
	c := &cobra.Command{
		Use:     "requeue <msg> --reason <r> --lease <epoch> [--json]",
		Short:   "Give a message back to the queue, naming its current lease",
		Example: `  $ git covenant a2a requeue msg-3f2a --reason "agent crashed" --lease 2`,
	}
	flag, what := "reason", "why it goes back"
	if fail {
		c.Use = "force-error <msg> --error <e> --lease <epoch> [--json]"
		c.Short = "Fail a message, naming its current lease"
		c.Example = `  $ git covenant a2a force-error msg-3f2a --error "input is not a diff" --lease 2`
		flag, what = "error", "the error to record"
	}
	c.Long = `The op names the lease it repairs by its epoch (see 'a2a status'); the fold
refuses it for any other epoch, so a repair of a lease that has since been
superseded is refused. The lease holder may do it under its live lease;
anyone else needs a2a.repair.`
	c.Args = exactArgs(1, "one message <msg>")
	c.RunE = func(c *cobra.Command, args []string) error {
		o.Message = args[0]
		if o.Reason == "" || lease == "" {
			return usagef("a2a %s needs --%s and --lease", c.Name(), flag)
		}
		n, err := strconv.ParseUint(lease, 10, 64)
		if err != nil || n == 0 {
			return usagef("--lease %q is not a lease epoch (a positive number; 'a2a status <msg>' shows it)", lease)
		}
		o.Lease = n
		return runCmd(c, o, runF, runA2ARepair)
	}
	c.Flags().StringVar(&o.Reason, flag, "", what)
	c.Flags().StringVar(&lease, "lease", "", "the current lease epoch")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the message as JSON")
	return c
}

func runA2ARepair(ctx context.Context, o *a2aRepairOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	v, err := svc.RepairMessage(ctx, o.Message, o.Reason, o.Lease, o.Fail)
	if err != nil {
		return err
	}
	return printDone(o.Out, v, o.JSON)
}

type a2aAckOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Message string
	JSON    bool
}

func newCmdA2AAck(f *Factory, runF func(context.Context, *a2aAckOptions) error) *cobra.Command {
	o := &a2aAckOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "ack <msg> [--json]",
		Short:   "Accept the result of a message you sent",
		Example: "  $ git covenant a2a ack msg-3f2a",
		Args:    exactArgs(1, "one message <msg>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Message = args[0]
			return runCmd(c, o, runF, runA2AAck)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the message as JSON")
	return c
}

func runA2AAck(ctx context.Context, o *a2aAckOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	v, err := svc.AckMessage(ctx, o.Message)
	if err != nil {
		return err
	}
	return printDone(o.Out, v, o.JSON)
}

type a2aCancelOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Message, Reason string
	JSON            bool
}

func newCmdA2ACancel(f *Factory, runF func(context.Context, *a2aCancelOptions) error) *cobra.Command {
	o := &a2aCancelOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "cancel <msg> [--reason <r>] [--json]",
		Short: "Withdraw a message you sent that is not answered yet",
		Long: `Cancel writes an a2a.cancel op: the message fails, marked cancelled, with the
reason as its error, and a lease on it ends (the holder's answer is then
refused). Only the identity that sent the message may cancel it, and only
while it is queued or in flight; the fold refuses any other, as it does
for an A2A tasks/cancel through the gateway.`,
		Example: `  $ git covenant a2a cancel msg-3f2a --reason "sent to the wrong agent"
  $ git covenant a2a cancel msg-3f2a --json | jq .status.state`,
		Args: exactArgs(1, "one message <msg>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Message = args[0]
			if strings.TrimSpace(o.Reason) == "" {
				return usagef("--reason is empty; say why the message is withdrawn")
			}
			return runCmd(c, o, runF, runA2ACancel)
		},
	}
	c.Flags().StringVar(&o.Reason, "reason", "cancelled by the sender", "why the message is withdrawn (recorded as its error)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the message as JSON")
	return c
}

func runA2ACancel(ctx context.Context, o *a2aCancelOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	v, err := svc.CancelMessage(ctx, o.Message, o.Reason)
	if err != nil {
		return err
	}
	return printDone(o.Out, v, o.JSON)
}

type a2aStatusOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Message string
	JSON    bool
}

func newCmdA2AStatus(f *Factory, runF func(context.Context, *a2aStatusOptions) error) *cobra.Command {
	o := &a2aStatusOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "status [<msg>] [--json]",
		Short:   "Show a message, or list every message, with its state now",
		Example: "  $ git covenant a2a status\n  $ git covenant a2a status msg-3f2a --json | jq .status.state",
		Args:    maxArgs(1, "one message <msg>"),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Message = args[0]
			}
			return runCmd(c, o, runF, runA2AStatus)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print JSON (an array without <msg>; [] when empty)")
	return c
}

func runA2AStatus(ctx context.Context, o *a2aStatusOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	if o.Message == "" {
		vs, err := svc.Messages(ctx, covenant.MessageFilter{})
		if err != nil {
			return err
		}
		return printMessages(o.Out, vs, o.JSON)
	}
	v, err := svc.Message(ctx, o.Message)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, v)
	}
	printMessage(o.Out, v)
	return nil
}
