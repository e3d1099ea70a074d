package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/provenance"
	"github.com/spf13/cobra"
)

func newCmdProvenance(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "provenance <command>",
		Short: "Record and export signed provenance for code commits",
		Long: `Provenance binds a code commit, its tree and the files it changed to the
validation that ran on it (command, exit status, duration, output digest),
the task and lease it was made under and the identity that ran it: an
in-toto Statement v1 with the test-result predicate, signed as DSSE with the
identity's ed25519 key, packed as a sigstore bundle v0.3 and attached as a
git note on refs/notes/covenant (git log --notes=covenant shows it).
'git covenant verify <range>' checks it.`,
	}
	c.AddCommand(newCmdProvenanceRecord(f, nil), newCmdProvenanceExport(f, nil))
	return c
}

type provenanceRecordOptions struct {
	Out, Err io.Writer // Err also gets the command's output as it runs
	Service  func(context.Context) (*covenant.Service, error)

	Commit string // empty: HEAD
	Task   string
	Argv   []string
	JSON   bool
}

func newCmdProvenanceRecord(f *Factory, runF func(context.Context, *provenanceRecordOptions) error) *cobra.Command {
	o := &provenanceRecordOptions{Out: f.Out, Err: f.Err, Service: f.Service}
	c := &cobra.Command{
		Use:   "record [<commit>] [--task <id>] -- <command>...",
		Short: "Run a validation command on a clean checkout of a commit and attach signed evidence",
		Long: `Check the commit (default HEAD) out into a temporary worktree, never your
working tree, run the command there, and attach a signed bundle of the
result to the commit as a note on refs/notes/covenant. A failing command is
recorded too (result FAILED; the command's exit status is passed on as
exit 10). Needs provenance.record for the files the commit changed.`,
		Example: "  $ git covenant provenance record -- make test\n  $ git covenant provenance record HEAD~1 --task tk-3f2a -- go test ./...",
		RunE: func(c *cobra.Command, args []string) error {
			dash := c.ArgsLenAtDash()
			if dash < 0 || dash == len(args) {
				return usagef("give the validation command after --, e.g. git covenant provenance record -- make test")
			}
			if dash > 1 {
				return usagef("%s takes at most one commit before -- (got %d)", c.CommandPath(), dash)
			}
			if dash == 1 {
				o.Commit = args[0]
			}
			o.Argv = args[dash:]
			return runCmd(c, o, runF, runProvenanceRecord)
		},
	}
	c.Flags().StringVar(&o.Task, "task", "", "the task the commit was made under (its lease epoch and transitions are bound in)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the result as JSON")
	return c
}

func runProvenanceRecord(ctx context.Context, o *provenanceRecordOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	rec, err := svc.RecordProvenance(ctx, covenant.RecordOptions{Commit: o.Commit, Task: o.Task, Argv: o.Argv, Output: o.Err})
	if err != nil {
		return err
	}
	if o.JSON {
		if err := printJSON(o.Out, rec); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(o.Out, "%s %s: %s (exit %d, %d ms, output sha256:%s)\n", rec.Result, rec.Commit[:12],
			provenance.CommandLine(rec.Evidence.Command), rec.Evidence.ExitCode, rec.Evidence.DurationMs, rec.Evidence.OutputSHA256[:12])
		fmt.Fprintf(o.Err, "attached to %s as a note on %s\n", rec.Commit, provenance.NotesRef)
	}
	if rec.Result != provenance.Passed {
		return verifyFailed{1}
	}
	return nil
}

type provenanceExportOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Commit string
	Dir    string // where the files go
}

func newCmdProvenanceExport(f *Factory, runF func(context.Context, *provenanceExportOptions) error) *cobra.Command {
	o := &provenanceExportOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "export <commit> [--out <dir>]",
		Short: "Write a commit's bundles and their signers' public keys for other tools",
		Long: `Write each bundle attached to the commit as <commit>-<n>.sigstore.json and
each signer's public key as <key-id>.pem (PKIX), so that for example

  cosign verify-blob-attestation --bundle <b> --key <pem> --insecure-ignore-tlog \
    --type https://in-toto.io/attestation/test-result/v0.1 --digest <commit> --digestAlg gitCommit

verifies it offline.`,
		Example: "  $ git covenant provenance export HEAD --out attestations",
		Args:    exactArgs(1, "one commit"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Commit = args[0]
			return runCmd(c, o, runF, runProvenanceExport)
		},
	}
	c.Flags().StringVarP(&o.Dir, "out", "o", ".", "directory to write into")
	return c
}

func runProvenanceExport(ctx context.Context, o *provenanceExportOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	commit, bundles, err := svc.ExportProvenance(ctx, o.Commit)
	if err != nil {
		return err
	}
	if len(bundles) == 0 {
		return fmt.Errorf("%w: commit %s has no provenance note", errNoProvenance, commit)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return err
	}
	for i, b := range bundles {
		p := filepath.Join(o.Dir, fmt.Sprintf("%s-%d.sigstore.json", commit, i+1))
		if err := os.WriteFile(p, append(b.Bundle, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(o.Out, p)
		if b.PEM != nil {
			k := filepath.Join(o.Dir, b.KeyID+".pem")
			if err := os.WriteFile(k, b.PEM, 0o644); err != nil {
				return err
			}
			fmt.Fprintln(o.Out, k)
		}
	}
	return nil
}

var errNoProvenance = fmt.Errorf("no provenance")

// provenanceVerifyOptions are verify's with revisions (and the pre-push
// hook's): it checks the provenance of the commits instead of the feeds.
type provenanceVerifyOptions struct {
	In       io.Reader // commit ids, with Stdin
	Out, Err io.Writer
	Service  func(context.Context) (*covenant.Service, error)

	Revs    []string
	Commits []string // full commit ids
	Stdin   bool
	Require bool
	Ref     string
	Format  string
	// TrustFile or PolicyFrom pin the config the range is judged by.
	TrustFile, PolicyFrom string
	QuietSource           bool // the pre-push hook: the local config is the point
}

func runProvenanceVerify(ctx context.Context, o *provenanceVerifyOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	opts := covenant.ProvenanceOptions{Revs: o.Revs, Commits: o.Commits, Require: o.Require, Ref: o.Ref}
	if o.Stdin {
		cs, err := covenant.ParseCommitList(o.In)
		if err != nil {
			return usagef("--stdin: %v", err)
		}
		opts.Commits = append(opts.Commits, cs...)
	}
	source := "the working tree's " + config.Path + " (not pinned: a branch under review controls it; in CI pass --trust <file> or --policy-from <base>)"
	switch {
	case o.TrustFile != "" && o.PolicyFrom != "":
		return usagef("give --trust or --policy-from, not both")
	case o.TrustFile != "":
		raw, err := os.ReadFile(o.TrustFile)
		if err != nil {
			return usagef("--trust: %v", err)
		}
		if opts.Trust, err = config.Parse(raw); err != nil {
			return err
		}
		source = o.TrustFile + " (--trust)"
	case o.PolicyFrom != "":
		if opts.Trust, err = svc.ConfigAt(ctx, o.PolicyFrom); err != nil {
			return err
		}
		source = o.PolicyFrom + ":" + config.Path + " (--policy-from)"
	}
	if !o.QuietSource {
		fmt.Fprintf(o.Err, "provenance policy and trust roots from %s\n", source)
	}
	rep, err := svc.VerifyProvenance(ctx, opts)
	if errors.Is(err, covenant.ErrBadRevision) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	switch o.Format {
	case "json":
		if err := printJSON(o.Out, rep); err != nil {
			return err
		}
	case "github":
		for _, c := range rep.Commits {
			if c.OK() {
				continue
			}
			for _, p := range c.Problems {
				fmt.Fprintln(o.Out, githubAnnotation(c, p))
			}
		}
	default:
		for _, c := range rep.Commits {
			fmt.Fprintln(o.Out, provenanceLine(c))
			if !c.OK() {
				for _, p := range c.Problems {
					fmt.Fprintf(o.Out, "    %s: %s\n", p.Kind, p.Reason)
				}
			}
			for _, b := range c.Bundles {
				if b.Ignored {
					fmt.Fprintf(o.Out, "    ignored note line: %s: %s\n", b.Problem.Kind, b.Problem.Reason)
				}
			}
		}
	}
	n := rep.Failures()
	status := "ok"
	if n > 0 {
		status = fmt.Sprintf("FAILED: %d commit(s)", n)
	}
	if len(rep.Commits) == 0 {
		status = "ok (nothing to check: the range is empty)"
	}
	fmt.Fprintf(o.Err, "verified provenance of %d commit(s): %s\n", len(rep.Commits), status)
	if n > 0 {
		return verifyFailed{n}
	}
	return nil
}

func provenanceLine(c provenance.CommitResult) string {
	short := c.Commit[:12]
	switch {
	case c.Status == provenance.StatusOK && c.Rule == "note":
		return fmt.Sprintf("ok          %s %s", short, c.Summary)
	case c.Status == provenance.StatusOK:
		return fmt.Sprintf("ok          %s %s (%s rule: attested %s)", short, c.Summary, c.Rule, c.Via[:12])
	}
	return fmt.Sprintf("%-11s %s %s", c.Status, short, c.Summary)
}

// githubAnnotation renders a problem as a GitHub Actions workflow command:
// ::error file=<first changed file>,title=<title>::<message>.
func githubAnnotation(c provenance.CommitResult, p provenance.Problem) string {
	props := []string{}
	if len(c.Files) > 0 {
		props = append(props, "file="+ghProperty(c.Files[0]))
	}
	props = append(props, "title="+ghProperty(fmt.Sprintf("provenance %s: %s", c.Status, c.Commit[:12])))
	msg := fmt.Sprintf("commit %s (%s): %s: %s", c.Commit[:12], c.Summary, p.Kind, p.Reason)
	return "::error " + strings.Join(props, ",") + "::" + ghData(msg)
}

func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
