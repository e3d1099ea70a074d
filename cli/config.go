package cli

import (
	"fmt"
	"strings"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/spf13/cobra"
)

func newCmdConfig(f *Factory) *cobra.Command {
	var adds []string
	var unset bool
	var keys []string
	for _, k := range config.Keys {
		keys = append(keys, fmt.Sprintf("  %-22s %-5s %s", k.Name, k.Kind, k.Usage))
	}
	c := &cobra.Command{
		Use:   "config <key> [<value>] | <key> --add <value>... | <key> --unset",
		Short: "Read or write a key of .covenant/config.toml, with validation",
		Long: `Like git config for .covenant/config.toml: with a key alone print its value
(a list one item a line, an unset list nothing); with a value set it. A list
value is given comma-separated, or appended to with repeated --add. Only
the key's own lines change; the whole file is validated first, and an
invalid value is refused (exit 8) with the file left unchanged. Commit the
file as usual: it is reviewed like code.

Keys:
` + strings.Join(keys, "\n"),
		Example: "  $ git covenant config provenance.require refs/heads/main,refs/heads/release/*\n  $ git covenant config provenance.commands --add 'make test'\n  $ git covenant config provenance.blob_rule true\n  $ git covenant config provenance.require",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("%s takes a key and at most one value (got %d argument(s))", c.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			k, err := config.LookupKey(args[0])
			if err != nil {
				return usagef("%v", err)
			}
			setting := len(args) == 2 || len(adds) > 0 || unset
			if (len(args) == 2 && len(adds) > 0) || (unset && (len(args) == 2 || len(adds) > 0)) {
				return usagef("give a value, --add or --unset, not more than one")
			}
			if len(adds) > 0 && k.Kind != "list" {
				return usagef("--add is for list keys; %s is a %s", k.Name, k.Kind)
			}
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			if !setting {
				vals, err := svc.ConfigGet(k.Name)
				if err != nil {
					return err
				}
				for _, v := range vals {
					fmt.Fprintln(f.Out, v)
				}
				return nil
			}
			e := covenant.ConfigEdit{Key: k.Name, Add: adds, Unset: unset}
			if len(args) == 2 {
				e.Value = &args[1]
			}
			if err := svc.ConfigSet(e); err != nil {
				return err
			}
			fmt.Fprintf(f.Err, "wrote %s; commit it to share the change\n", config.Path)
			return nil
		},
	}
	c.Flags().StringArrayVar(&adds, "add", nil, "append a value to a list key (repeatable)")
	c.Flags().BoolVar(&unset, "unset", false, "remove the key")
	return c
}
