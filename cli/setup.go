package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/identity"
	"github.com/spf13/cobra"
)

type initOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Name     string
	NoCommit bool
	JSON     bool
}

func newCmdInit(f *Factory, runF func(context.Context, *initOptions) error) *cobra.Command {
	o := &initOptions{Out: f.Out, Service: f.Service}
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
		RunE: func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runInit) },
	}
	c.Flags().StringVar(&o.Name, "name", "", "identity to use or create (default: your first identity, else $USER)")
	c.Flags().BoolVar(&o.NoCommit, "no-commit", false, "stage .covenant/config.toml without committing it")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the result as JSON")
	return c
}

func runInit(ctx context.Context, o *initOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	res, err := svc.Init(ctx, covenant.InitRequest{Name: o.Name, NoCommit: o.NoCommit})
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, res)
	}
	if res.Already {
		fmt.Fprintf(o.Out, "Already initialized: %s exists; nothing changed.\n", res.ConfigPath)
		return nil
	}
	if res.CreatedIdentity {
		fmt.Fprintf(o.Out, "Created identity %s (key %s).\n", res.Identity, res.KeyID)
	}
	how := "committed"
	if !res.Committed {
		how = "staged"
	}
	fmt.Fprintf(o.Out, "Wrote %s with trust root %s (%s).\n", res.ConfigPath, res.Identity, how)
	fmt.Fprintf(o.Out, "Started feed refs/covenant/feeds/%s.\n", res.KeyID)
	fmt.Fprintf(o.Out, "Next: git covenant task create \"<title>\"\n")
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
	c.AddCommand(newCmdIDNew(f, nil), newCmdIDList(f, nil), newCmdIDShow(f, nil), newCmdIDImport(f, nil), newCmdIDRegister(f, nil),
		newCmdIDRotate(f, nil), newCmdIDRevoke(f, nil))
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

type idNewOptions struct {
	Out      io.Writer
	Keystore func() (*identity.Keystore, error)
	Now      func() time.Time

	Name string
	Role identity.Role
	JSON bool
}

func newCmdIDNew(f *Factory, runF func(context.Context, *idNewOptions) error) *cobra.Command {
	o := &idNewOptions{Out: f.Out, Keystore: f.Keystore, Now: f.Now}
	var role string
	c := &cobra.Command{
		Use:     "new <name> [--role human|agent|daemon]",
		Short:   "Create an identity with a fresh ed25519 key",
		Example: "  $ git covenant id new alice\n  $ git covenant id new builder-1 --role agent",
		Args:    exactArgs(1, "one <name>"),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := identity.ParseRole(role)
			if err != nil {
				return usageError{err}
			}
			o.Name, o.Role = args[0], r
			return runCmd(c, o, runF, runIDNew)
		},
	}
	c.Flags().StringVar(&role, "role", "human", "human, agent or daemon")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the identity as JSON")
	return c
}

func runIDNew(_ context.Context, o *idNewOptions) error {
	ks, err := o.Keystore()
	if err != nil {
		return err
	}
	id, err := ks.New(o.Name, o.Role, o.Now())
	if err != nil {
		return err
	}
	if o.JSON {
		def, _ := ks.Default()
		return printJSON(o.Out, toIDJSON(id, def))
	}
	fmt.Fprintf(o.Out, "Created %s identity %s (key %s).\n%s\n", id.Role, id.Name, id.KeyID(), id.AuthorizedKey())
	return nil
}

type idImportOptions struct {
	Out      io.Writer
	Keystore func() (*identity.Keystore, error)
	Now      func() time.Time

	Name, Path string
	Role       identity.Role
	JSON       bool
}

func newCmdIDImport(f *Factory, runF func(context.Context, *idImportOptions) error) *cobra.Command {
	o := &idImportOptions{Out: f.Out, Keystore: f.Keystore, Now: f.Now}
	var role string
	c := &cobra.Command{
		Use:     "import <name> <path> [--role human|agent|daemon]",
		Short:   "Bring an existing OpenSSH ed25519 private key in as an identity",
		Example: "  $ git covenant id import alice ~/.ssh/id_ed25519",
		Args:    exactArgs(2, "<name> and <path>"),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := identity.ParseRole(role)
			if err != nil {
				return usageError{err}
			}
			o.Name, o.Path, o.Role = args[0], args[1], r
			return runCmd(c, o, runF, runIDImport)
		},
	}
	c.Flags().StringVar(&role, "role", "human", "human, agent or daemon")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the identity as JSON")
	return c
}

func runIDImport(_ context.Context, o *idImportOptions) error {
	ks, err := o.Keystore()
	if err != nil {
		return err
	}
	id, err := ks.Import(o.Name, o.Role, o.Path, o.Now())
	if err != nil {
		return err
	}
	if o.JSON {
		def, _ := ks.Default()
		return printJSON(o.Out, toIDJSON(id, def))
	}
	fmt.Fprintf(o.Out, "Imported %s as %s identity %s (key %s).\n", o.Path, id.Role, id.Name, id.KeyID())
	return nil
}

type idListOptions struct {
	Out, Err io.Writer
	Keystore func() (*identity.Keystore, error)

	JSON bool
}

func newCmdIDList(f *Factory, runF func(context.Context, *idListOptions) error) *cobra.Command {
	o := &idListOptions{Out: f.Out, Err: f.Err, Keystore: f.Keystore}
	c := &cobra.Command{
		Use:   "list [--json]",
		Short: "List your identities",
		Args:  exactArgs(0, "no arguments"),
		RunE:  func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runIDList) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print identities as a JSON array")
	return c
}

func runIDList(_ context.Context, o *idListOptions) error {
	ks, err := o.Keystore()
	if err != nil {
		return err
	}
	ids, err := ks.List()
	if err != nil {
		return err
	}
	def, _ := ks.Default()
	if o.JSON {
		out := []idJSON{}
		for _, id := range ids {
			out = append(out, toIDJSON(id, def))
		}
		return printJSON(o.Out, out)
	}
	if len(ids) == 0 {
		fmt.Fprintln(o.Err, "no identities yet; create one with 'git covenant id new <name>'")
	}
	for _, id := range ids {
		mark := " "
		if id.Name == def {
			mark = "*"
		}
		fmt.Fprintf(o.Out, "%s %-20s %-7s %s\n", mark, id.Name, id.Role, id.KeyID())
	}
	return nil
}

type idShowOptions struct {
	Out      io.Writer
	Keystore func() (*identity.Keystore, error)

	Name string // the identity to show; empty: the keystore's default
	JSON bool
}

func newCmdIDShow(f *Factory, runF func(context.Context, *idShowOptions) error) *cobra.Command {
	o := &idShowOptions{Out: f.Out, Keystore: f.Keystore}
	c := &cobra.Command{
		Use:   "show [<name>] [--json]",
		Short: "Print an identity's public key as an OpenSSH line",
		Long: `Print an identity's public key as one OpenSSH "ssh-ed25519 AAAA… name" line,
the form 'git covenant id register --key' accepts. Without a name, shows the
acting identity (--as, $GIT_COVENANT_AS, else the default).`,
		Example: "  $ git covenant id show\n  $ git covenant id show builder-1 --json",
		Args:    maxArgs(1, "one <name>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Name = f.As
			if o.Name == "" {
				o.Name = f.Getenv("GIT_COVENANT_AS")
			}
			if len(args) == 1 {
				o.Name = args[0]
			}
			return runCmd(c, o, runF, runIDShow)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the identity as JSON")
	return c
}

func runIDShow(_ context.Context, o *idShowOptions) error {
	ks, err := o.Keystore()
	if err != nil {
		return err
	}
	def, _ := ks.Default()
	name := o.Name
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
	if o.JSON {
		return printJSON(o.Out, toIDJSON(id, def))
	}
	fmt.Fprintln(o.Out, id.AuthorizedKey())
	return nil
}

type idRegisterOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Name   string
	Role   identity.Role
	Key    string // the OpenSSH public key line
	Grants []string
	JSON   bool
}

func newCmdIDRegister(f *Factory, runF func(context.Context, *idRegisterOptions) error) *cobra.Command {
	o := &idRegisterOptions{Out: f.Out, Service: f.Service}
	var role, key string
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
			o.Name, o.Role, o.Key = args[0], r, key
			if !strings.HasPrefix(strings.TrimSpace(key), "ssh-") {
				b, err := os.ReadFile(key)
				if err != nil {
					return usagef("--key %q is neither an OpenSSH public key line nor a readable file", key)
				}
				o.Key = string(b)
			}
			return runCmd(c, o, runF, runIDRegister)
		},
	}
	c.Flags().StringVar(&role, "role", "agent", "human, agent or daemon")
	c.Flags().StringVar(&key, "key", "", "OpenSSH public key line, or a file holding one")
	c.Flags().StringArrayVar(&o.Grants, "grant", nil, "scope to grant right away (repeatable)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the registered actor as JSON")
	return c
}

func runIDRegister(ctx context.Context, o *idRegisterOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	a, err := svc.RegisterIdentity(ctx, o.Name, o.Role, o.Key, o.Grants)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, a)
	}
	fmt.Fprintf(o.Out, "Registered %s %s (key %s).\n", a.Role, a.Name, a.KeyID)
	return nil
}

type allowedSignersOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Output string // a file to write instead of Out
}

func newCmdAllowedSigners(f *Factory, runF func(context.Context, *allowedSignersOptions) error) *cobra.Command {
	o := &allowedSignersOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "allowed-signers [--output <file>]",
		Short: "Print an allowed-signers file so stock git verifies feed commits",
		Long: `Print an OpenSSH allowed-signers file listing every trusted key, so that stock
git can verify feed commit signatures:

  git covenant allowed-signers > .git/covenant-signers
  git -c gpg.ssh.allowedSignersFile=.git/covenant-signers verify-commit refs/covenant/feeds/<key-id>`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runAllowedSigners) },
	}
	c.Flags().StringVarP(&o.Output, "output", "o", "", "write to this file instead of stdout")
	return c
}

func runAllowedSigners(ctx context.Context, o *allowedSignersOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	s, err := svc.AllowedSigners(ctx)
	if err != nil {
		return err
	}
	if o.Output != "" {
		return os.WriteFile(o.Output, []byte(s), 0o644)
	}
	fmt.Fprint(o.Out, s)
	return nil
}

func newCmdIndex(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "index <command>",
		Short: "Manage the local derived index under .git/covenant",
	}
	c.AddCommand(newCmdIndexRebuild(f, nil))
	return c
}

type indexRebuildOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdIndexRebuild(f *Factory, runF func(context.Context, *indexRebuildOptions) error) *cobra.Command {
	o := &indexRebuildOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "rebuild [--json]",
		Short: "Fold every feed again from scratch into a new index",
		Long: `Fold every feed again from scratch. The index is derived data, never a source of
truth; reads catch it up by themselves, so this is only needed to measure or
to recover from a damaged disk.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runIndexRebuild) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print counts as JSON")
	return c
}

func runIndexRebuild(ctx context.Context, o *indexRebuildOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	m, err := svc.Rebuild(ctx)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, m)
	}
	fmt.Fprintf(o.Out, "Rebuilt index: %d ops from %d feeds, %d tasks, %d ops ignored by the fold.\n", m.Ops, m.Feeds, m.Tasks, m.Rejected)
	if m.Findings > 0 {
		fmt.Fprintf(o.Out, "%d feed problem(s): run 'git covenant verify'.\n", m.Findings)
	}
	return nil
}
