package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/spf13/cobra"
)

func newCmdIgnore(f *Factory) *cobra.Command {
	c := &cobra.Command{Use: "ignore <command>", Short: "Explain what is kept out of the repository (.covenantignore and the secret rules)"}
	c.AddCommand(newCmdIgnoreCheck(f, nil))
	return c
}

type ignoreCheckOptions struct {
	In      io.Reader
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)
	Dir     string

	Path string // "-": read the content from standard input
	JSON bool
}

func newCmdIgnoreCheck(f *Factory, runF func(context.Context, *ignoreCheckOptions) error) *cobra.Command {
	o := &ignoreCheckOptions{In: f.In, Out: f.Out, Service: f.Service, Dir: f.Dir}
	c := &cobra.Command{
		Use:   "check {<path> | -} [--json]",
		Short: "Explain whether a file's content (or standard input) would be stored",
		Long: `Explain the decision a write makes: for a path, whether .covenantignore (gitignore
syntax, after built-in rules for .env files, private keys and credentials)
keeps its content out of handoffs and which line decided, and what the secret
rules find in the file; for -, what they find in standard input. Findings name
the rule and the line, never the secret. Exits 0 either way.`,
		Example: "  $ git covenant ignore check .env\n  $ git covenant ignore check - < notes.txt",
		Args:    exactArgs(1, "one <path> or -"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Path = args[0]
			return runCmd(c, o, runF, runIgnoreCheck)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return c
}

func runIgnoreCheck(ctx context.Context, o *ignoreCheckOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	rel, content := "-", []byte(nil)
	if o.Path == "-" {
		if content, err = io.ReadAll(io.LimitReader(o.In, 64<<20)); err != nil {
			return err
		}
	} else if rel, err = pinRelative(svc.WorkTree(), o.Dir, o.Path); err != nil {
		return err
	}
	d, err := svc.CheckIgnore(rel, content)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, d)
	}
	switch {
	case d.Path == "-":
	case d.Ignored:
		fmt.Fprintf(o.Out, "%s: ignored by %s line %d: %s\n", d.Path, d.Source, d.Line, d.Pattern)
	case d.Line > 0:
		fmt.Fprintf(o.Out, "%s: not ignored (re-included by %s line %d: %s)\n", d.Path, d.Source, d.Line, d.Pattern)
	default:
		fmt.Fprintf(o.Out, "%s: not ignored (no pattern matches)\n", d.Path)
	}
	for _, f := range d.Findings {
		fmt.Fprintf(o.Out, "%s: secret: %s line %d\n", d.Path, f.Rule, f.Line)
	}
	if d.Stored {
		fmt.Fprintf(o.Out, "%s: stored as written\n", d.Path)
	} else if d.Path == "-" {
		fmt.Fprintln(o.Out, "-: each secret would be redacted (or the write refused, per [secrets] on_hit)")
	} else {
		fmt.Fprintf(o.Out, "%s: not stored (a handoff or pin records its blob id only)\n", d.Path)
	}
	return nil
}
