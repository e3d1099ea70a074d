package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/spf13/cobra"
)

// InitOptions are the inputs of init.
type InitOptions struct {
	F        *Factory
	Name     string
	NoCommit bool
	JSON     bool
}

func newCmdInit(f *Factory, runF func(*InitOptions) error) *cobra.Command {
	opts := &InitOptions{F: f}
	c := &cobra.Command{
		Use:   "init [--name <name>] [--no-commit]",
		Short: "Make this repository a covenant repository",
		Long: `Make this repository a covenant repository.

Creates an identity if you have none, writes .covenant/config.toml naming its
key as the trust root, commits that file alone on the current branch (or only
stages it with --no-commit) and writes the identity's genesis op to its feed
refs/covenant/feeds/<key-id>. Running it again changes nothing and says so.`,
		Example: `  $ git covenant init
  $ git covenant init --name alice --no-commit`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runInit(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Name, "name", "", "identity to use or create (default: your first identity, else $USER)")
	c.Flags().BoolVar(&opts.NoCommit, "no-commit", false, "stage .covenant/config.toml without committing it")
	c.Flags().BoolVar(&opts.JSON, "json", false, "print the result as JSON")
	return c
}

func runInit(ctx context.Context, o *InitOptions) error {
	svc, err := o.F.Service(ctx)
	if err != nil {
		return err
	}
	res, err := svc.Init(ctx, covenant.InitRequest{Name: o.Name, NoCommit: o.NoCommit})
	if err != nil {
		return err
	}
	if o.JSON {
		return o.F.printJSON(res)
	}
	if res.Already {
		fmt.Fprintf(o.F.Out, "Already initialized: %s exists; nothing changed.\n", res.ConfigPath)
		return nil
	}
	if res.CreatedIdentity {
		fmt.Fprintf(o.F.Out, "Created identity %s (key %s).\n", res.Identity, res.KeyID)
	}
	how := "committed"
	if !res.Committed {
		how = "staged"
	}
	fmt.Fprintf(o.F.Out, "Wrote %s with trust root %s (%s).\n", res.ConfigPath, res.Identity, how)
	fmt.Fprintf(o.F.Out, "Started feed refs/covenant/feeds/%s.\n", res.KeyID)
	fmt.Fprintf(o.F.Out, "Next: git covenant task create \"<title>\"\n")
	return nil
}

func newCmdID(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "id <command>",
		Short: "Manage identities (ed25519 keys) and register them in the repository",
		Long: `Manage identities. Each actor (human, agent, daemon) has its own ed25519 key,
kept outside the repository under $GIT_COVENANT_HOME (default
$XDG_CONFIG_HOME/git-covenant) as an OpenSSH private key file, mode 0600 in a
0700 directory. Agents never borrow a human's key.`,
	}
	c.AddCommand(newCmdIDNew(f), newCmdIDList(f), newCmdIDShow(f), newCmdIDImport(f), newCmdIDRegister(f),
		newCmdIDRotate(f), newCmdIDRevoke(f))
	return c
}

type idJSON struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	KeyID   string `json:"key_id"`
	Key     string `json:"key"`
	Created string `json:"created"`
	Default bool   `json:"default"`
}

func toIDJSON(id *identity.Identity, def string) idJSON {
	return idJSON{Name: id.Name, Role: string(id.Role), KeyID: id.KeyID(), Key: identity.FormatPublicKey(id.PublicKey),
		Created: id.Created.Format("2006-01-02T15:04:05Z07:00"), Default: id.Name == def}
}

// newIdentityCmd builds a command that adds an identity to the keystore.
func newIdentityCmd(f *Factory, c *cobra.Command, add func(ks *identity.Keystore, role identity.Role, args []string) (*identity.Identity, string, error)) *cobra.Command {
	var role string
	var asJSON bool
	c.RunE = func(c *cobra.Command, args []string) error {
		r, err := identity.ParseRole(role)
		if err != nil {
			return usageError{err}
		}
		ks, err := f.Keystore()
		if err != nil {
			return err
		}
		id, msg, err := add(ks, r, args)
		if err != nil {
			return err
		}
		def, _ := ks.Default()
		if asJSON {
			return f.printJSON(toIDJSON(id, def))
		}
		fmt.Fprintln(f.Out, msg)
		return nil
	}
	c.Flags().StringVar(&role, "role", "human", "human, agent or daemon")
	c.Flags().BoolVar(&asJSON, "json", false, "print the identity as JSON")
	return c
}

func newCmdIDNew(f *Factory) *cobra.Command {
	return newIdentityCmd(f, &cobra.Command{
		Use:     "new <name> [--role human|agent|daemon]",
		Short:   "Create an identity with a fresh ed25519 key",
		Example: "  $ git covenant id new alice\n  $ git covenant id new builder-1 --role agent",
		Args:    exactArgs(1, "one <name>"),
	}, func(ks *identity.Keystore, role identity.Role, args []string) (*identity.Identity, string, error) {
		id, err := ks.New(args[0], role, f.Now())
		if err != nil {
			return nil, "", err
		}
		return id, fmt.Sprintf("Created %s identity %s (key %s).\n%s", id.Role, id.Name, id.KeyID(), id.AuthorizedKey()), nil
	})
}

func newCmdIDImport(f *Factory) *cobra.Command {
	return newIdentityCmd(f, &cobra.Command{
		Use:     "import <name> <path> [--role human|agent|daemon]",
		Short:   "Bring an existing OpenSSH ed25519 private key in as an identity",
		Example: "  $ git covenant id import alice ~/.ssh/id_ed25519",
		Args:    exactArgs(2, "<name> and <path>"),
	}, func(ks *identity.Keystore, role identity.Role, args []string) (*identity.Identity, string, error) {
		id, err := ks.Import(args[0], role, args[1], f.Now())
		if err != nil {
			return nil, "", err
		}
		return id, fmt.Sprintf("Imported %s as %s identity %s (key %s).", args[1], id.Role, id.Name, id.KeyID()), nil
	})
}

func newCmdIDList(f *Factory) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [--json]",
		Short: "List your identities",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			ks, err := f.Keystore()
			if err != nil {
				return err
			}
			ids, err := ks.List()
			if err != nil {
				return err
			}
			def, _ := ks.Default()
			if asJSON {
				out := []idJSON{}
				for _, id := range ids {
					out = append(out, toIDJSON(id, def))
				}
				return f.printJSON(out)
			}
			if len(ids) == 0 {
				fmt.Fprintln(f.Err, "no identities yet; create one with 'git covenant id new <name>'")
			}
			for _, id := range ids {
				mark := " "
				if id.Name == def {
					mark = "*"
				}
				fmt.Fprintf(f.Out, "%s %-20s %-7s %s\n", mark, id.Name, id.Role, id.KeyID())
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print identities as a JSON array")
	return c
}

func newCmdIDShow(f *Factory) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show [<name>] [--json]",
		Short: "Print an identity's public key as an OpenSSH line",
		Long: `Print an identity's public key as one OpenSSH "ssh-ed25519 AAAA… name" line,
the form 'git covenant id register --key' accepts. Without a name, shows the
acting identity (--as, $GIT_COVENANT_AS, else the default).`,
		Example: "  $ git covenant id show\n  $ git covenant id show builder-1 --json",
		Args:    maxArgs(1, "one <name>"),
		RunE: func(c *cobra.Command, args []string) error {
			ks, err := f.Keystore()
			if err != nil {
				return err
			}
			name := f.As
			if name == "" {
				name = f.Getenv("GIT_COVENANT_AS")
			}
			if len(args) == 1 {
				name = args[0]
			}
			def, _ := ks.Default()
			if name == "" {
				if def == "" {
					return identity.ErrNoIdentity
				}
				name = def
			}
			id, err := ks.Get(name)
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(toIDJSON(id, def))
			}
			fmt.Fprintln(f.Out, id.AuthorizedKey())
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the identity as JSON")
	return c
}

func newCmdIDRegister(f *Factory) *cobra.Command {
	var role, key string
	var grants []string
	var asJSON bool
	c := &cobra.Command{
		Use:   "register <name> --key <pubkey-or-file> [--role human|agent|daemon] [--grant <scope>]...",
		Short: "Trust another actor's key in this repository (needs identity.admin)",
		Long: `Record, as a signed op in your feed, that a public key belongs to <name> with
a role. Needs identity.admin (trust roots hold every scope). A registered
identity can act only within the capabilities granted to it: --grant gives
scopes in the same write (see 'git covenant cap grant' for limits). Once the
refs are shared, every clone trusts the key.`,
		Example: `  $ git covenant id register builder-1 --role agent --key "$(git covenant id show builder-1)" \
      --grant task.create --grant task.claim --grant task.move --grant task.handoff
  $ git covenant id register bob --role human --key bob.pub --grant review.code`,
		Args: exactArgs(1, "one <name>"),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := identity.ParseRole(role)
			if err != nil {
				return usageError{err}
			}
			if key == "" {
				return usagef("--key is required")
			}
			if !strings.HasPrefix(strings.TrimSpace(key), "ssh-") {
				b, err := os.ReadFile(key)
				if err != nil {
					return usagef("--key %q is neither an OpenSSH public key line nor a readable file", key)
				}
				key = string(b)
			}
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			a, err := svc.RegisterIdentity(c.Context(), args[0], r, key, grants)
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(a)
			}
			fmt.Fprintf(f.Out, "Registered %s %s (key %s).\n", a.Role, a.Name, a.KeyID)
			return nil
		},
	}
	c.Flags().StringVar(&role, "role", "agent", "human, agent or daemon")
	c.Flags().StringVar(&key, "key", "", "OpenSSH public key line, or a file holding one")
	c.Flags().StringArrayVar(&grants, "grant", nil, "scope to grant right away (repeatable)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the registered actor as JSON")
	return c
}

func newCmdAllowedSigners(f *Factory) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "allowed-signers [--output <file>]",
		Short: "Print an allowed-signers file so stock git verifies feed commits",
		Long: `Print an OpenSSH allowed-signers file listing every trusted key, so that stock
git can verify feed commit signatures:

  git covenant allowed-signers > .git/covenant-signers
  git -c gpg.ssh.allowedSignersFile=.git/covenant-signers verify-commit refs/covenant/feeds/<key-id>`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			s, err := svc.AllowedSigners(c.Context())
			if err != nil {
				return err
			}
			if out != "" {
				return os.WriteFile(out, []byte(s), 0o644)
			}
			fmt.Fprint(f.Out, s)
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	return c
}

func newCmdIndex(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "index <command>",
		Short: "Manage the local derived index under .git/covenant",
	}
	var asJSON bool
	rebuild := &cobra.Command{
		Use:   "rebuild [--json]",
		Short: "Fold every feed again from scratch into a new index",
		Long: `Fold every feed again from scratch. The index is derived data, never a source of
truth; reads catch it up by themselves, so this is only needed to measure or
to recover from a damaged disk.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			m, err := svc.Rebuild(c.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(m)
			}
			fmt.Fprintf(f.Out, "Rebuilt index: %d ops from %d feeds, %d tasks, %d ops ignored by the fold.\n", m.Ops, m.Feeds, m.Tasks, m.Rejected)
			if m.Findings > 0 {
				fmt.Fprintf(f.Out, "%d feed problem(s): run 'git covenant verify'.\n", m.Findings)
			}
			return nil
		},
	}
	rebuild.Flags().BoolVar(&asJSON, "json", false, "print counts as JSON")
	c.AddCommand(rebuild)
	return c
}
