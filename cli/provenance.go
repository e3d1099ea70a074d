package cli

import (
	"context"
	"errors"
	"fmt"
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
	c.AddCommand(newCmdProvenanceRecord(f), newCmdProvenanceExport(f))
	return c
}

func newCmdProvenanceRecord(f *Factory) *cobra.Command {
	var task string
	var asJSON bool
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
			rev := ""
			if dash == 1 {
				rev = args[0]
			}
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			rec, err := svc.RecordProvenance(c.Context(), covenant.RecordOptions{Commit: rev, Task: task, Argv: args[dash:], Output: f.Err})
			if err != nil {
				return err
			}
			if asJSON {
				if err := f.printJSON(rec); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(f.Out, "%s %s: %s (exit %d, %d ms, output sha256:%s)\n", rec.Result, rec.Commit[:12],
					provenance.CommandLine(rec.Evidence.Command), rec.Evidence.ExitCode, rec.Evidence.DurationMs, rec.Evidence.OutputSHA256[:12])
				fmt.Fprintf(f.Err, "attached to %s as a note on %s\n", rec.Commit, provenance.NotesRef)
			}
			if rec.Result != provenance.Passed {
				return verifyFailed{1}
			}
			return nil
		},
	}
	c.Flags().StringVar(&task, "task", "", "the task the commit was made under (its lease epoch and transitions are bound in)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

func newCmdProvenanceExport(f *Factory) *cobra.Command {
	var out string
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
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			commit, bundles, err := svc.ExportProvenance(c.Context(), args[0])
			if err != nil {
				return err
			}
			if len(bundles) == 0 {
				return fmt.Errorf("%w: commit %s has no provenance note", errNoProvenance, commit)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			for i, b := range bundles {
				p := filepath.Join(out, fmt.Sprintf("%s-%d.sigstore.json", commit, i+1))
				if err := os.WriteFile(p, append(b.Bundle, '\n'), 0o644); err != nil {
					return err
				}
				fmt.Fprintln(f.Out, p)
				if b.PEM != nil {
					k := filepath.Join(out, b.KeyID+".pem")
					if err := os.WriteFile(k, b.PEM, 0o644); err != nil {
						return err
					}
					fmt.Fprintln(f.Out, k)
				}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&out, "out", "o", ".", "directory to write into")
	return c
}

var errNoProvenance = fmt.Errorf("no provenance")

// provenanceVerify is verify with revisions: it checks the provenance of
// the commits instead of the feeds.
type provenanceVerify struct {
	revs    []string
	commits []string // full commit ids
	stdin   bool
	require bool
	ref     string
	format  string
	// trustFile or policyFrom pin the config the range is judged by.
	trustFile, policyFrom string
	quietSource           bool // the pre-push hook: the local config is the point
}

func runProvenanceVerify(ctx context.Context, f *Factory, o provenanceVerify) error {
	svc, err := f.Service(ctx)
	if err != nil {
		return err
	}
	opts := covenant.ProvenanceOptions{Revs: o.revs, Commits: o.commits, Require: o.require, Ref: o.ref}
	if o.stdin {
		cs, err := covenant.ParseCommitList(f.In)
		if err != nil {
			return usagef("--stdin: %v", err)
		}
		opts.Commits = append(opts.Commits, cs...)
	}
	source := "the working tree's " + config.Path + " (not pinned: a branch under review controls it; in CI pass --trust <file> or --policy-from <base>)"
	switch {
	case o.trustFile != "" && o.policyFrom != "":
		return usagef("give --trust or --policy-from, not both")
	case o.trustFile != "":
		raw, err := os.ReadFile(o.trustFile)
		if err != nil {
			return usagef("--trust: %v", err)
		}
		if opts.Trust, err = config.Parse(raw); err != nil {
			return err
		}
		source = o.trustFile + " (--trust)"
	case o.policyFrom != "":
		if opts.Trust, err = svc.ConfigAt(ctx, o.policyFrom); err != nil {
			return err
		}
		source = o.policyFrom + ":" + config.Path + " (--policy-from)"
	}
	if !o.quietSource {
		fmt.Fprintf(f.Err, "provenance policy and trust roots from %s\n", source)
	}
	rep, err := svc.VerifyProvenance(ctx, opts)
	if errors.Is(err, covenant.ErrBadRevision) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	switch o.format {
	case "json":
		if err := f.printJSON(rep); err != nil {
			return err
		}
	case "github":
		for _, c := range rep.Commits {
			if c.OK() {
				continue
			}
			for _, p := range c.Problems {
				fmt.Fprintln(f.Out, githubAnnotation(c, p))
			}
		}
	default:
		for _, c := range rep.Commits {
			fmt.Fprintln(f.Out, provenanceLine(c))
			if !c.OK() {
				for _, p := range c.Problems {
					fmt.Fprintf(f.Out, "    %s: %s\n", p.Kind, p.Reason)
				}
			}
			for _, b := range c.Bundles {
				if b.Ignored {
					fmt.Fprintf(f.Out, "    ignored note line: %s: %s\n", b.Problem.Kind, b.Problem.Reason)
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
	fmt.Fprintf(f.Err, "verified provenance of %d commit(s): %s\n", len(rep.Commits), status)
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
