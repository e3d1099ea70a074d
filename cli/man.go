package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Man pages. `git covenant --help` never reaches this binary: git turns
// `git <cmd> --help` into `git help <cmd>`, which runs `man git-<cmd>`. So
// the pages must be where man looks. man-db derives its search path from
// PATH (for <dir>/bin it searches <dir>/share/man and <dir>/man), so pages
// written to <dir>/share/man/man1 beside the git-covenant on PATH are
// found with no MANPATH setting; gen-man writes there by default.
// `git covenant -h` and `git covenant help [<command>]` reach the binary
// and print the same text built in.

type genManOptions struct {
	Out    io.Writer
	Getenv func(string) string

	Root *cobra.Command // the command tree to document
	Dir  string         // empty: the man1 directory beside git-covenant on PATH
}

func newCmdGenMan(f *Factory, runF func(context.Context, *genManOptions) error) *cobra.Command {
	o := &genManOptions{Out: f.Out, Getenv: f.Getenv}
	return &cobra.Command{
		Use:   "gen-man [<dir>]",
		Short: "Install a man page for every command, so git covenant --help works",
		Long: `Write one man page per command (git-covenant.1, git-covenant-task-create.1,
…) into <dir>, by default <prefix>/share/man/man1 for the git-covenant
found on PATH in <prefix>/bin: man finds pages there without any MANPATH
setting, and 'git covenant --help' (which git turns into
'man git-covenant') then works. Prints the directory.

Without man pages, 'git covenant -h' and 'git covenant help [<command>]'
print the same help built in.`,
		Example: "  $ git covenant gen-man\n  $ git covenant gen-man ~/.local/share/man/man1",
		Args:    maxArgs(1, "one <dir>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Root = c.Root()
			if len(args) == 1 {
				o.Dir = args[0]
			}
			return runCmd(c, o, runF, runGenMan)
		},
	}
}

func runGenMan(_ context.Context, o *genManOptions) error {
	dir := o.Dir
	if dir == "" {
		bin := onPath(o.Getenv("PATH"), "git-covenant")
		if bin == "" {
			return usagef("git-covenant is not on PATH; name the directory: git covenant gen-man <dir>")
		}
		dir = filepath.Join(filepath.Dir(filepath.Dir(bin)), "share", "man", "man1")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeManTree(o.Root, dir); err != nil {
		return err
	}
	fmt.Fprintln(o.Out, dir)
	return nil
}

// onPath returns the first executable file called name in the PATH list.
func onPath(path, name string) string {
	for _, d := range filepath.SplitList(path) {
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// writeManTree writes the page of c and of every available command below.
func writeManTree(c *cobra.Command, dir string) error {
	for _, sub := range c.Commands() {
		if !sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand() {
			continue
		}
		if err := writeManTree(sub, dir); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, manName(c)+".1"), manPage(c), 0o644)
}

// manName is the page name: git-covenant-task-create for `git covenant
// task create`.
func manName(c *cobra.Command) string {
	names := []string{}
	for p := c; p.HasParent(); p = p.Parent() {
		names = append([]string{p.Name()}, names...)
	}
	return strings.Join(append([]string{"git-covenant"}, names...), "-")
}

// manPage renders a command's page as roff, written directly (not through
// markdown, which would take <placeholder> for an HTML tag and drop it).
func manPage(c *cobra.Command) []byte {
	c.InitDefaultHelpFlag()
	var b bytes.Buffer
	name := manName(c)
	fmt.Fprintf(&b, ".TH %q 1 \"\" %q \"Git Covenant Manual\"\n", strings.ToUpper(name), "git-covenant "+Version)
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", roff(name), roff(c.Short))
	b.WriteString(".SH SYNOPSIS\n.nf\n")
	path := strings.TrimPrefix(c.CommandPath(), c.Root().CommandPath())
	use := strings.TrimSpace(strings.TrimPrefix(c.Use, c.Name()))
	if !c.HasParent() {
		use = "[--as <identity>] <command> [<args>]"
	}
	fmt.Fprintf(&b, "\\fBgit covenant%s\\fR %s\n.fi\n", roff(path), roff(use))
	desc := c.Long
	if desc == "" {
		desc = c.Short + "."
	}
	b.WriteString(".SH DESCRIPTION\n")
	roffText(&b, desc)
	if subs := availableSubcommands(c); len(subs) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, s := range subs {
			fmt.Fprintf(&b, ".TP\n\\fB%s\\fR(1)\n%s\n", roff(manName(s)), roff(s.Short))
		}
	}
	manFlags(&b, "OPTIONS", c.NonInheritedFlags(), c.Use)
	manFlags(&b, "GLOBAL OPTIONS", c.InheritedFlags(), c.Root().Use)
	if !c.HasParent() {
		b.WriteString(".SH EXIT STATUS\n")
		roffText(&b, exitCodesText())
	}
	if c.Example != "" {
		b.WriteString(".SH EXAMPLES\n.nf\n.RS\n")
		for _, l := range strings.Split(strings.TrimRight(c.Example, "\n"), "\n") {
			b.WriteString(roffLine(strings.TrimPrefix(l, "  ")) + "\n")
		}
		b.WriteString(".RE\n.fi\n")
	}
	see := []string{}
	if c.HasParent() {
		see = append(see, manName(c.Parent()))
	}
	for _, s := range availableSubcommands(c) {
		see = append(see, manName(s))
	}
	if !c.HasParent() {
		see = append(see, "git-covenant-exit-codes")
	}
	for i, s := range see {
		see[i] = "\\fB" + roff(s) + "\\fR(1)"
	}
	if len(see) > 0 {
		fmt.Fprintf(&b, ".SH SEE ALSO\n%s\n", strings.Join(see, ", "))
	}
	return b.Bytes()
}

func availableSubcommands(c *cobra.Command) []*cobra.Command {
	var subs []*cobra.Command
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() && !s.IsAdditionalHelpTopicCommand() {
			subs = append(subs, s)
		}
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
	return subs
}

// manFlags lists flags, each with its value placeholder as the Use line
// spells it (--body <text>), else <value> (<n> for numbers).
func manFlags(b *bytes.Buffer, title string, fs *pflag.FlagSet, use string) {
	if !fs.HasAvailableFlags() {
		return
	}
	fmt.Fprintf(b, ".SH %s\n", title)
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Hidden || fl.Deprecated != "" {
			return
		}
		usage := fl.Usage
		head := "\\fB\\-\\-" + roff(fl.Name) + "\\fR"
		if fl.Shorthand != "" && fl.ShorthandDeprecated == "" {
			head = "\\fB\\-" + roff(fl.Shorthand) + "\\fR, " + head
		}
		if fl.NoOptDefVal == "" {
			head += " \\fI" + roff(flagPlaceholder(fl, use)) + "\\fR"
		}
		if d := fl.DefValue; d != "" && d != "false" && d != "[]" && d != "0" {
			usage += " (default " + d + ")"
		}
		fmt.Fprintf(b, ".TP\n%s\n%s\n", head, roff(usage))
	})
}

// flagPlaceholder names a flag's value: as the Use line does after the
// flag's name, else by its type.
func flagPlaceholder(fl *pflag.Flag, use string) string {
	if i := strings.Index(use, "--"+fl.Name+" "); i >= 0 {
		rest := use[i+len(fl.Name)+3:]
		if end := strings.IndexAny(rest, " ]"); end > 0 {
			rest = rest[:end]
		}
		if strings.HasPrefix(rest, "<") || strings.HasPrefix(rest, "{") || strings.Contains(rest, "|") {
			return rest
		}
	}
	switch fl.Value.Type() {
	case "int", "int64", "uint":
		return "<n>"
	}
	return "<value>"
}

// roffText renders help text: paragraphs filled, indented lines kept as
// they are.
func roffText(b *bytes.Buffer, s string) {
	pre := false
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		indented := strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")
		switch {
		case strings.TrimSpace(l) == "":
			if pre {
				b.WriteString(".fi\n.RE\n")
				pre = false
			}
			b.WriteString(".PP\n")
			continue
		case indented && !pre:
			b.WriteString(".RS\n.nf\n")
			pre = true
		case !indented && pre:
			b.WriteString(".fi\n.RE\n")
			pre = false
		}
		if pre {
			l = strings.TrimPrefix(strings.TrimPrefix(l, "  "), "\t")
		}
		b.WriteString(roffLine(l) + "\n")
	}
	if pre {
		b.WriteString(".fi\n.RE\n")
	}
}

// roff escapes text for roff: backslashes, and minus signs so that
// options copy as ASCII hyphens.
func roff(s string) string {
	return strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
}

// roffLine escapes one line of text; a line starting with . or ' would be
// a request.
func roffLine(s string) string {
	s = roff(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
