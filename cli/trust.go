package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/trust"
	"github.com/spf13/cobra"
)

type idRotateOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Name string
	Key  string // the new public key; empty: make one (acting as Name)
}

func newCmdIDRotate(f *Factory, runF func(context.Context, *idRotateOptions) error) *cobra.Command {
	o := &idRotateOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "rotate <name> [--key <new-pubkey>]",
		Short: "Move an identity to a new key; the old key's later ops are invalid",
		Long: `Move an identity to a new key. Acting as <name> without --key, a fresh key is
made, the rotation is signed by the old key, and your keystore switches to the
new key (the old private key is kept as key.rotated-<time>). An identity admin
rotates someone else's key with --key. Grants follow the identity; ops signed
by the old key after the rotation are flagged by verify and ignored.`,
		Example: "  $ git covenant --as builder-1 id rotate builder-1\n  $ git covenant id rotate builder-1 --key \"ssh-ed25519 AAAA…\"",
		Args:    exactArgs(1, "one <name>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Name = args[0]
			return runCmd(c, o, runF, runIDRotate)
		},
	}
	c.Flags().StringVar(&o.Key, "key", "", "the new public key (identity admins rotating someone else)")
	return c
}

func runIDRotate(ctx context.Context, o *idRotateOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	k, err := svc.RotateIdentity(ctx, o.Name, o.Key)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "Rotated %s to key %s.\n", o.Name, k)
	return nil
}

type idRevokeOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Name, Reason string
}

func newCmdIDRevoke(f *Factory, runF func(context.Context, *idRevokeOptions) error) *cobra.Command {
	o := &idRevokeOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "revoke <name> --reason <text>",
		Short:   "Revoke an identity: every later op by any of its keys is invalid",
		Example: "  $ git covenant id revoke builder-1 --reason \"laptop lost\"",
		Args:    exactArgs(1, "one <name>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Name = args[0]
			return runCmd(c, o, runF, runIDRevoke)
		},
	}
	c.Flags().StringVar(&o.Reason, "reason", "", "why (required)")
	return c
}

func runIDRevoke(ctx context.Context, o *idRevokeOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	if err := svc.RevokeIdentity(ctx, o.Name, o.Reason); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "Revoked %s.\n", o.Name)
	return nil
}

func newCmdCap(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "cap <command>",
		Short: "Grant, revoke, list and check capabilities",
		Long: `Capabilities are signed, scoped grants to named identities. Trust roots hold
every scope; everyone else can do exactly what they were granted. Every write
is checked before it is signed, and the fold and verify check every op again
at its place in history.

Scopes:
` + scopeList() + `
A grant may be limited to tasks with given labels (--label), to files
(--path, for provenance), in time (--expires) and in number of uses
(--max-uses). A --delegable grant lets its holder grant a subset of it,
never more; revoking a grant disables everything delegated from it.`,
	}
	c.AddCommand(newCmdCapGrant(f, nil), newCmdCapRevoke(f, nil), newCmdCapList(f, nil), newCmdCapCheck(f, nil))
	return c
}

func scopeList() string {
	var b strings.Builder
	for _, s := range trust.Scopes {
		fmt.Fprintf(&b, "  %-20s %s\n", s.Name, s.Allows)
	}
	return b.String()
}

type capGrantOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)
	Now     func() time.Time

	Grant   covenant.GrantRequest
	Expires string // a duration from now or an RFC 3339 time, read against Now
	JSON    bool
}

func newCmdCapGrant(f *Factory, runF func(context.Context, *capGrantOptions) error) *cobra.Command {
	o := &capGrantOptions{Out: f.Out, Service: f.Service, Now: f.Now}
	c := &cobra.Command{
		Use:   "grant <identity> <scope>... [--label <l>]... [--path <glob>]... [--expires <duration|time>] [--max-uses <n>] [--delegable]",
		Short: "Grant scopes to an identity",
		Example: `  $ git covenant cap grant builder-1 task.claim task.move task.handoff --label backend --expires 720h
  $ git covenant cap grant lead-agent task.create task.claim --delegable --max-uses 100 --json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("%s takes an <identity> and at least one <scope>", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			o.Grant.To, o.Grant.Scopes = args[0], args[1:]
			return runCmd(c, o, runF, runCapGrant)
		},
	}
	c.Flags().StringArrayVar(&o.Grant.Labels, "label", nil, "only for tasks with this label (repeatable)")
	c.Flags().StringArrayVar(&o.Grant.Paths, "path", nil, "only for files matching this glob (repeatable)")
	c.Flags().StringVar(&o.Expires, "expires", "", "a duration from now (72h) or an RFC 3339 time")
	c.Flags().IntVar(&o.Grant.MaxUses, "max-uses", 0, "how many ops the grant may authorize (0: unlimited)")
	c.Flags().BoolVar(&o.Grant.Delegable, "delegable", false, "let the holder grant a subset of this grant")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the grant as JSON")
	return c
}

func runCapGrant(ctx context.Context, o *capGrantOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	req := o.Grant
	if o.Expires != "" {
		t, err := parseExpiry(o.Expires, o.Now())
		if err != nil {
			return err
		}
		req.ExpiresAt = &t
	}
	g, err := svc.GrantCapability(ctx, req)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, g)
	}
	fmt.Fprintf(o.Out, "%s\n", g.ID)
	return nil
}

func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, usagef("--expires %s is not in the future", s)
		}
		return now.Add(d).UTC().Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("--expires %q is neither a duration (72h) nor an RFC 3339 time", s)
	}
	return t.UTC(), nil
}

type capRevokeOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Grant, Reason string
	JSON          bool
}

func newCmdCapRevoke(f *Factory, runF func(context.Context, *capRevokeOptions) error) *cobra.Command {
	o := &capRevokeOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "revoke <grant-id> --reason <text>",
		Short:   "Revoke a grant, and with it everything delegated from it",
		Example: "  $ git covenant cap revoke cap-1a2b3c4d5e6f --reason \"project over\"",
		Args:    exactArgs(1, "one <grant-id>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Grant = args[0]
			return runCmd(c, o, runF, runCapRevoke)
		},
	}
	c.Flags().StringVar(&o.Reason, "reason", "", "why (required)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the grant as JSON")
	return c
}

func runCapRevoke(ctx context.Context, o *capRevokeOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	g, err := svc.RevokeCapability(ctx, o.Grant, o.Reason)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, g)
	}
	fmt.Fprintf(o.Out, "Revoked %s (%s: %s).\n", g.ID, g.To, strings.Join(g.Scopes, " "))
	return nil
}

type capListOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)
	Now     func() time.Time

	Identity string // only grants to this identity
	JSON     bool
}

func newCmdCapList(f *Factory, runF func(context.Context, *capListOptions) error) *cobra.Command {
	o := &capListOptions{Out: f.Out, Service: f.Service, Now: f.Now}
	c := &cobra.Command{
		Use:   "list [--identity <name>] [--json]",
		Short: "List grants",
		Args:  exactArgs(0, "no arguments"),
		RunE:  func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runCapList) },
	}
	c.Flags().StringVar(&o.Identity, "identity", "", "only grants to this identity")
	c.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array")
	return c
}

func runCapList(ctx context.Context, o *capListOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	gs, err := svc.Grants(ctx, o.Identity)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, gs)
	}
	now := o.Now()
	for _, g := range gs {
		status := "active"
		switch {
		case g.Revoked != nil:
			status = "revoked"
		case g.ExpiresAt != nil && !now.Before(*g.ExpiresAt):
			status = "expired"
		case g.MaxUses > 0 && g.Uses >= g.MaxUses:
			status = "used up"
		}
		extra := ""
		if len(g.Labels) > 0 {
			extra += " labels=" + strings.Join(g.Labels, ",")
		}
		if g.ExpiresAt != nil {
			extra += " expires=" + g.ExpiresAt.Format(time.RFC3339)
		}
		if g.MaxUses > 0 {
			extra += fmt.Sprintf(" uses=%d/%d", g.Uses, g.MaxUses)
		}
		if g.Delegable {
			extra += " delegable"
		}
		if g.Parent != "" {
			extra += " from=" + g.Parent
		}
		fmt.Fprintf(o.Out, "%s  %-8s %-12s %s%s (by %s)\n", g.ID, status, g.To, strings.Join(g.Scopes, " "), extra, g.By)
	}
	return nil
}

type capCheckOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Identity, Scope, Task string
	JSON                  bool
}

func newCmdCapCheck(f *Factory, runF func(context.Context, *capCheckOptions) error) *cobra.Command {
	o := &capCheckOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "check <identity> <scope> [--task <id>]",
		Short:   "Say whether an identity may use a scope now, and why",
		Example: "  $ git covenant cap check builder-1 task.claim --task tk-3f2a",
		Args:    exactArgs(2, "<identity> and <scope>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Identity, o.Scope = args[0], args[1]
			return runCmd(c, o, runF, runCapCheck)
		},
	}
	c.Flags().StringVar(&o.Task, "task", "", "check against this task's labels")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the decision as JSON")
	return c
}

func runCapCheck(ctx context.Context, o *capCheckOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	d, err := svc.CheckCapability(ctx, o.Identity, o.Scope, o.Task)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, d)
	}
	verdict := "deny"
	if d.Allowed {
		verdict = "allow"
	}
	fmt.Fprintf(o.Out, "%s: %s\n", verdict, d.Reason)
	return nil
}

func newCmdTrust(f *Factory) *cobra.Command {
	c := &cobra.Command{Use: "trust <command>", Short: "Show the roots of trust and the identities the feeds know"}
	c.AddCommand(newCmdTrustShow(f, nil))
	return c
}

type trustShowOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdTrustShow(f *Factory, runF func(context.Context, *trustShowOptions) error) *cobra.Command {
	o := &trustShowOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "show [--json]",
		Short: "Print the trust roots of .covenant/config.toml and every registered identity",
		Args:  exactArgs(0, "no arguments"),
		RunE:  func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runTrustShow) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print as JSON")
	return c
}

func runTrustShow(ctx context.Context, o *trustShowOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	rep, err := svc.Trust(ctx)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, rep)
	}
	fmt.Fprintln(o.Out, "roots (.covenant/config.toml):")
	for _, root := range rep.Roots {
		fmt.Fprintf(o.Out, "  %-14s %s\n", root.Name, root.Key)
	}
	fmt.Fprintln(o.Out, "identities:")
	for _, p := range rep.Identities {
		status := ""
		if p.Revoked != nil {
			status = "  REVOKED: " + p.Revoked.Reason
		}
		rot := ""
		if len(p.Keys) > 1 {
			rot = fmt.Sprintf(" (%d keys, rotated)", len(p.Keys))
		}
		fmt.Fprintf(o.Out, "  %-14s %-7s key %s%s, %d grant(s)%s\n", p.Name, p.Role, p.Key, rot, len(p.Grants), status)
	}
	return nil
}
