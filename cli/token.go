package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/tokens"
	"github.com/spf13/cobra"
)

func newCmdToken(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "token <command>",
		Short: "Create, list, rotate and revoke operator tokens for the HTTP gateway",
		Long: `An operator token is a bearer secret for the daemon's HTTP gateway. It acts for
the identity that created it: every write made with it is signed by that
identity, and is checked against the token's scopes and that identity's
capabilities, like the same write through the CLI (ADR 0015).

The secret is printed once, by create and rotate; only its SHA-256 is kept,
in .git/covenant/tokens.json (mode 0600). Creation, rotation and revocation
are recorded as signed token.* ops (name, id, scopes and the first 12 hex
digits of the hash, never the secret).

Scopes: read (every token may read; a token with read alone does nothing
else), or any capability scope the creating identity holds now:
` + scopeList(),
	}
	c.AddCommand(newCmdTokenCreate(f, nil), newCmdTokenList(f, nil), newCmdTokenRotate(f, nil), newCmdTokenRevoke(f, nil))
	return c
}

type tokenCreateOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)
	Now     func() time.Time

	Req     covenant.TokenRequest
	Expires string
	JSON    bool
}

func newCmdTokenCreate(f *Factory, runF func(context.Context, *tokenCreateOptions) error) *cobra.Command {
	o := &tokenCreateOptions{Out: f.Out, Service: f.Service, Now: f.Now}
	c := &cobra.Command{
		Use:   "create --name <name> --scope <scope>... [--expires <duration|time>] [--json]",
		Short: "Create a token and print its secret, once",
		Example: `  $ git covenant token create --name console --scope read
  $ git covenant token create --name ci-bot --scope task.create --scope task.comment --expires 30d --json`,
		Args: exactArgs(0, "no arguments (--name and --scope are flags)"),
		RunE: func(c *cobra.Command, args []string) error {
			if o.Req.Name == "" {
				return usagef("token create needs --name")
			}
			if len(o.Req.Scopes) == 0 {
				return usagef("token create needs at least one --scope (read for reads only)")
			}
			if o.Expires != "" {
				t, err := parseTokenExpiry(o.Expires, o.Now())
				if err != nil {
					return err
				}
				o.Req.ExpiresAt = &t
			}
			return runCmd(c, o, runF, runTokenCreate)
		},
	}
	c.Flags().StringVar(&o.Req.Name, "name", "", "the token's name (required)")
	c.Flags().StringArrayVar(&o.Req.Scopes, "scope", nil, "a scope the token carries (repeatable; at least one)")
	c.Flags().StringVar(&o.Expires, "expires", "", "a duration from now (72h, 30d) or an RFC 3339 time")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the token, secret included, as JSON")
	return c
}

// parseTokenExpiry is parseExpiry that also takes whole days (30d).
func parseTokenExpiry(s string, now time.Time) (time.Time, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 || n > 3650 {
			return time.Time{}, usagef("--expires %q: days must be 1 to 3650", s)
		}
		return now.Add(time.Duration(n) * 24 * time.Hour).UTC().Truncate(time.Second), nil
	}
	return parseExpiry(s, now)
}

func runTokenCreate(ctx context.Context, o *tokenCreateOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.CreateToken(ctx, o.Req)
	if err != nil {
		return err
	}
	return printIssued(o.Out, t, o.JSON, "Created")
}

func printIssued(w io.Writer, t *tokens.Issued, asJSON bool, verb string) error {
	if asJSON {
		return printJSON(w, t)
	}
	fmt.Fprintf(w, "%s token %s (%s) for %s: %s\n", verb, t.Name, t.ID, t.Operator, strings.Join(t.Scopes, " "))
	fmt.Fprintf(w, "Secret (shown this once, kept nowhere):\n%s\n", t.Secret)
	return nil
}

type tokenListOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdTokenList(f *Factory, runF func(context.Context, *tokenListOptions) error) *cobra.Command {
	o := &tokenListOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "list [--json]",
		Short: "List this clone's tokens (never a secret)",
		Args:  exactArgs(0, "no arguments"),
		RunE:  func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runTokenList) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array")
	return c
}

func runTokenList(ctx context.Context, o *tokenListOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	ts, err := svc.Tokens(ctx)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, ts)
	}
	for _, t := range ts {
		extra := ""
		if t.ExpiresAt != nil {
			extra += " expires=" + t.ExpiresAt.Format(time.RFC3339)
		}
		if t.RotatedAt != nil {
			extra += " rotated=" + t.RotatedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(o.Out, "%s  %-16s %-8s %-12s sha256:%s %s%s\n", t.ID, t.Name, t.Status, t.Operator, t.HashPrefix, strings.Join(t.Scopes, " "), extra)
	}
	return nil
}

type tokenRotateOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Token string
	JSON  bool
}

func newCmdTokenRotate(f *Factory, runF func(context.Context, *tokenRotateOptions) error) *cobra.Command {
	o := &tokenRotateOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "rotate <name|id> [--json]",
		Short:   "Give a token a new secret; the old one is refused from now on",
		Example: "  $ git covenant token rotate console",
		Args:    exactArgs(1, "one <name|id>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Token = args[0]
			return runCmd(c, o, runF, runTokenRotate)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the token, new secret included, as JSON")
	return c
}

func runTokenRotate(ctx context.Context, o *tokenRotateOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.RotateToken(ctx, o.Token)
	if err != nil {
		return err
	}
	return printIssued(o.Out, t, o.JSON, "Rotated")
}

type tokenRevokeOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Token, Reason string
	JSON          bool
}

func newCmdTokenRevoke(f *Factory, runF func(context.Context, *tokenRevokeOptions) error) *cobra.Command {
	o := &tokenRevokeOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "revoke <name|id> [--reason <text>] [--json]",
		Short:   "Revoke a token; it is refused from now on",
		Example: `  $ git covenant token revoke ci-bot --reason "leaked in a build log"`,
		Args:    exactArgs(1, "one <name|id>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Token = args[0]
			return runCmd(c, o, runF, runTokenRevoke)
		},
	}
	c.Flags().StringVar(&o.Reason, "reason", "", "why")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the token as JSON")
	return c
}

func runTokenRevoke(ctx context.Context, o *tokenRevokeOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	t, err := svc.RevokeToken(ctx, o.Token, o.Reason)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, t)
	}
	fmt.Fprintf(o.Out, "Revoked token %s (%s).\n", t.Name, t.ID)
	return nil
}
