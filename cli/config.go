package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/spf13/cobra"
)

type configOptions struct {
	Out, Err io.Writer
	Service  func(context.Context) (*covenant.Service, error)

	Key   config.Key
	Value *string // the value to set, if one was given
	Add   []string
	Unset bool
}

func newCmdConfig(f *Factory, runF func(context.Context, *configOptions) error) *cobra.Command {
	o := &configOptions{Out: f.Out, Err: f.Err, Service: f.Service}
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
			if (len(args) == 2 && len(o.Add) > 0) || (o.Unset && (len(args) == 2 || len(o.Add) > 0)) {
				return usagef("give a value, --add or --unset, not more than one")
			}
			if len(o.Add) > 0 && k.Kind != "list" {
				return usagef("--add is for list keys; %s is a %s", k.Name, k.Kind)
			}
			o.Key = k
			if len(args) == 2 {
				o.Value = &args[1]
			}
			return runCmd(c, o, runF, runConfig)
		},
	}
	c.Flags().StringArrayVar(&o.Add, "add", nil, "append a value to a list key (repeatable)")
	c.Flags().BoolVar(&o.Unset, "unset", false, "remove the key")
	return c
}

// runConfig prints the key's value, or with a value, --add or --unset
// writes it.
func runConfig(ctx context.Context, o *configOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	if o.Value == nil && len(o.Add) == 0 && !o.Unset {
		vals, err := svc.ConfigGet(o.Key.Name)
		if err != nil {
			return err
		}
		for _, v := range vals {
			fmt.Fprintln(o.Out, v)
		}
		return nil
	}
	if err := svc.ConfigSet(covenant.ConfigEdit{Key: o.Key.Name, Value: o.Value, Add: o.Add, Unset: o.Unset}); err != nil {
		return err
	}
	fmt.Fprintf(o.Err, "wrote %s; commit it to share the change\n", config.Path)
	return nil
}
