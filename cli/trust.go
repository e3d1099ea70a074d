package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/trust"
	"github.com/spf13/cobra"
)

func newCmdIDRotate(f *Factory) *cobra.Command {
	var key string
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
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			k, err := svc.RotateIdentity(c.Context(), args[0], key)
			if err != nil {
				return err
			}
			fmt.Fprintf(f.Out, "Rotated %s to key %s.\n", args[0], k)
			return nil
		},
	}
	c.Flags().StringVar(&key, "key", "", "the new public key (identity admins rotating someone else)")
	return c
}

func newCmdIDRevoke(f *Factory) *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:     "revoke <name> --reason <text>",
		Short:   "Revoke an identity: every later op by any of its keys is invalid",
		Example: "  $ git covenant id revoke builder-1 --reason \"laptop lost\"",
		Args:    exactArgs(1, "one <name>"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			if err := svc.RevokeIdentity(c.Context(), args[0], reason); err != nil {
				return err
			}
			fmt.Fprintf(f.Out, "Revoked %s.\n", args[0])
			return nil
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why (required)")
	return c
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
	c.AddCommand(newCmdCapGrant(f), newCmdCapRevoke(f), newCmdCapList(f), newCmdCapCheck(f))
	return c
}

func scopeList() string {
	var b strings.Builder
	for _, s := range trust.Scopes {
		fmt.Fprintf(&b, "  %-20s %s\n", s.Name, s.Allows)
	}
	return b.String()
}

func newCmdCapGrant(f *Factory) *cobra.Command {
	var req covenant.GrantRequest
	var expires string
	var asJSON bool
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
			req.To, req.Scopes = args[0], args[1:]
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			if expires != "" {
				t, err := parseExpiry(expires, f.Now())
				if err != nil {
					return err
				}
				req.ExpiresAt = &t
			}
			g, err := svc.GrantCapability(c.Context(), req)
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(g)
			}
			fmt.Fprintf(f.Out, "%s\n", g.ID)
			return nil
		},
	}
	c.Flags().StringArrayVar(&req.Labels, "label", nil, "only for tasks with this label (repeatable)")
	c.Flags().StringArrayVar(&req.Paths, "path", nil, "only for files matching this glob (repeatable)")
	c.Flags().StringVar(&expires, "expires", "", "a duration from now (72h) or an RFC 3339 time")
	c.Flags().IntVar(&req.MaxUses, "max-uses", 0, "how many ops the grant may authorize (0: unlimited)")
	c.Flags().BoolVar(&req.Delegable, "delegable", false, "let the holder grant a subset of this grant")
	c.Flags().BoolVar(&asJSON, "json", false, "print the grant as JSON")
	return c
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

func newCmdCapRevoke(f *Factory) *cobra.Command {
	var reason string
	var asJSON bool
	c := &cobra.Command{
		Use:     "revoke <grant-id> --reason <text>",
		Short:   "Revoke a grant, and with it everything delegated from it",
		Example: "  $ git covenant cap revoke cap-1a2b3c4d5e6f --reason \"project over\"",
		Args:    exactArgs(1, "one <grant-id>"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			g, err := svc.RevokeCapability(c.Context(), args[0], reason)
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(g)
			}
			fmt.Fprintf(f.Out, "Revoked %s (%s: %s).\n", g.ID, g.To, strings.Join(g.Scopes, " "))
			return nil
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why (required)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the grant as JSON")
	return c
}

func newCmdCapList(f *Factory) *cobra.Command {
	var to string
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [--identity <name>] [--json]",
		Short: "List grants",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			gs, err := svc.Grants(c.Context(), to)
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(gs)
			}
			now := f.Now()
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
				fmt.Fprintf(f.Out, "%s  %-8s %-12s %s%s (by %s)\n", g.ID, status, g.To, strings.Join(g.Scopes, " "), extra, g.By)
			}
			return nil
		},
	}
	c.Flags().StringVar(&to, "identity", "", "only grants to this identity")
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return c
}

func newCmdCapCheck(f *Factory) *cobra.Command {
	var task string
	var asJSON bool
	c := &cobra.Command{
		Use:     "check <identity> <scope> [--task <id>]",
		Short:   "Say whether an identity may use a scope now, and why",
		Example: "  $ git covenant cap check builder-1 task.claim --task tk-3f2a",
		Args:    exactArgs(2, "<identity> and <scope>"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			d, err := svc.CheckCapability(c.Context(), args[0], args[1], task)
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(d)
			}
			verdict := "deny"
			if d.Allowed {
				verdict = "allow"
			}
			fmt.Fprintf(f.Out, "%s: %s\n", verdict, d.Reason)
			return nil
		},
	}
	c.Flags().StringVar(&task, "task", "", "check against this task's labels")
	c.Flags().BoolVar(&asJSON, "json", false, "print the decision as JSON")
	return c
}

func newCmdTrust(f *Factory) *cobra.Command {
	c := &cobra.Command{Use: "trust <command>", Short: "Show the roots of trust and the identities the feeds know"}
	var asJSON bool
	show := &cobra.Command{
		Use:   "show [--json]",
		Short: "Print the trust roots of .covenant/config.toml and every registered identity",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			rep, err := svc.Trust(c.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(rep)
			}
			fmt.Fprintln(f.Out, "roots (.covenant/config.toml):")
			for _, root := range rep.Roots {
				fmt.Fprintf(f.Out, "  %-14s %s\n", root.Name, root.Key)
			}
			fmt.Fprintln(f.Out, "identities:")
			for _, p := range rep.Identities {
				status := ""
				if p.Revoked != nil {
					status = "  REVOKED: " + p.Revoked.Reason
				}
				rot := ""
				if len(p.Keys) > 1 {
					rot = fmt.Sprintf(" (%d keys, rotated)", len(p.Keys))
				}
				fmt.Fprintf(f.Out, "  %-14s %-7s key %s%s, %d grant(s)%s\n", p.Name, p.Role, p.Key, rot, len(p.Grants), status)
			}
			return nil
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	c.AddCommand(show)
	return c
}
