package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/gitstore"
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
			st, err := gitstore.Open(f.Dir)
			if err != nil {
				return err
			}
			if st.WorkTree == "" {
				return fmt.Errorf("%w: config needs a working tree", covenant.ErrBare)
			}
			path := filepath.Join(st.WorkTree, filepath.FromSlash(config.Path))
			raw, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%w: no %s", covenant.ErrNotCovenant, config.Path)
			} else if err != nil {
				return err
			}
			if !setting {
				cfg, err := config.Parse(raw)
				if err != nil {
					return err
				}
				vals, err := cfg.Get(k.Name)
				if err != nil {
					return err
				}
				for _, v := range vals {
					fmt.Fprintln(f.Out, v)
				}
				return nil
			}
			var value any
			switch {
			case unset:
			case len(adds) > 0:
				cfg, err := config.Parse(raw)
				if err != nil {
					return err
				}
				cur, err := cfg.Get(k.Name)
				if err != nil {
					return err
				}
				value = append(cur, adds...)
			default:
				vals := []string{args[1]}
				if k.Kind == "list" {
					vals = vals[:0]
					for _, v := range strings.Split(args[1], ",") {
						if v = strings.TrimSpace(v); v == "" {
							return fmt.Errorf("%w: %s = %q: an empty item (use --unset to clear the list)", config.ErrInvalid, k.Name, args[1])
						}
						vals = append(vals, v)
					}
				}
				if value, err = config.ParseValue(k, vals); err != nil {
					return err
				}
			}
			out, err := config.Set(raw, k.Name, value)
			if err != nil {
				return err
			}
			info, err := os.Stat(path)
			if err != nil {
				return err
			}
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, out, info.Mode().Perm()); err != nil {
				return err
			}
			if err := os.Rename(tmp, path); err != nil {
				os.Remove(tmp)
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
