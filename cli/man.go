package cli

import (
	"context"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

type genManOptions struct {
	Root *cobra.Command // the command tree to document
	Dir  string
}

// newCmdGenMan writes man pages (it needs nothing from the Factory), so that `git covenant --help` (which git
// turns into `man git-covenant`) works once they are installed.
func newCmdGenMan(runF func(context.Context, *genManOptions) error) *cobra.Command {
	o := &genManOptions{}
	return &cobra.Command{
		Use:    "gen-man <dir>",
		Short:  "Write man pages for every command into a directory",
		Hidden: true,
		Args:   exactArgs(1, "one <dir>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Root, o.Dir = c.Root(), args[0]
			return runCmd(c, o, runF, runGenMan)
		},
	}
}

func runGenMan(_ context.Context, o *genManOptions) error {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return err
	}
	o.Root.Use = "git-covenant"
	o.Root.DisableAutoGenTag = true
	return doc.GenManTree(o.Root, &doc.GenManHeader{Title: "GIT-COVENANT", Section: "1", Source: "git-covenant " + Version}, o.Dir)
}
