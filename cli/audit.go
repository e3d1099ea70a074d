package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/git-covenant/git-covenant/config"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/spf13/cobra"
)

type logOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Task string // only ops on this task
	JSON bool
}

func newCmdLog(f *Factory, runF func(context.Context, *logOptions) error) *cobra.Command {
	o := &logOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "log [--task <id>] [--json]",
		Short: "Show every op across all feeds in fold order",
		Long: `Show every op across all feeds, in the total order the fold applies them
(Lamport clock, then key id, then sequence), with actor and time. Ops the
fold ignored are marked with the reason.`,
		Example: "  $ git covenant log\n  $ git covenant log --task tk-3f2a --json",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runLog) },
	}
	c.Flags().StringVar(&o.Task, "task", "", "only ops on this task")
	c.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array")
	return c
}

func runLog(ctx context.Context, o *logOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	bw := newRows(o.Out, o.JSON, "log-entry/1")
	err = svc.EachLog(ctx, o.Task, func(raw []byte, e *covenant.LogEntry) error {
		if o.JSON {
			bw.raw(raw)
		} else {
			name := e.Actor.Name
			if name == "" {
				name = e.Actor.Key[:12]
			}
			fmt.Fprintf(bw, "%s  %-12s %-18s %-15s %s", e.Time.Format(time.RFC3339), name, e.Type, e.Task, e.Op[:12])
			if e.Rejected != nil {
				fmt.Fprintf(bw, "  IGNORED %s: %s", e.Rejected.Kind, e.Rejected.Reason)
			}
			bw.WriteString("\n")
		}
		return nil
	})
	if err != nil {
		return err
	}
	return bw.close()
}

type verifyOptions struct {
	In       io.Reader // commit ids, with --stdin
	Out, Err io.Writer
	Service  func(context.Context) (*covenant.Service, error)

	Revs         []string // a revision range: verify provenance instead of the feeds
	Stdin        bool
	Format       string // text, json or github
	Full, Strict bool
	TrustFile    string
	RequireProv  bool
	Ref          string
	PolicyFrom   string
}

func newCmdVerify(f *Factory, runF func(context.Context, *verifyOptions) error) *cobra.Command {
	o := &verifyOptions{In: f.In, Out: f.Out, Err: f.Err, Service: f.Service}
	var asJSON bool
	c := &cobra.Command{
		Use:   "verify [<revision-range>...] [--require-provenance] [--format {text | json | github}] [--json]",
		Short: "Verify every feed: signatures, linearity, well-formed and authorized ops",
		Long: `Verify every feed from its root: each commit's SSHSIG signature by the feed's
own key, linear history, canonical and well-formed ops with an unbroken
sequence and rising Lamport clock, and, folding all ops in order, that each
was made by a trusted key and was legal when made. Feeds rewritten since the
last clean verify on this machine are reported too.

By default only what is new since the last run is checked (the local index
remembers what it verified; it is never trusted across clones); --full
re-checks everything. In CI, pin the reviewed config so a clone cannot add
its own roots: --trust <(git show origin/main:.covenant/config.toml).

Each problem is one line naming its kind, feed and commit. Ops that lost a
race with concurrent work (a claim made offline while another clone claimed
the task: lease-conflict, stale-epoch, lease-expired, illegal-transition,
duplicate) are conflicts: listed and ignored by the fold, failing only with
--strict. Exit status 0 means no errors; 10 means errors (see
'git covenant help exit-codes').

With a revision range (or --stdin), verify checks the provenance of those
commits instead: each needs a note on refs/notes/covenant whose bundles all
verify (DSSE signature by a known identity that held provenance.record,
subjects matching the real commit, tree and blobs, a valid task and lease)
and at least one recording a passing validation; a commit with no note of
its own passes by the tree rule (an attested commit has the same tree) or,
with blob_rule in the policy, the blob rule. Provenance is required with
--require-provenance or when the [provenance] policy's require list names
the ref (--ref, else the range's right side). --format github prints
workflow annotations. Exit 10 if any commit fails.

Trust roots, identities and the [provenance] policy for a range come from a
pinned source, never from the commits being verified: --trust <file> (a
config reviewed elsewhere) or --policy-from <rev> (the config committed at
a revision, e.g. origin/main). Without either, the working tree's config is
used and stderr says so; in CI always pin it. The last line on stderr says
how many commits were checked; an empty range checks none and passes
(verify the pushed range, e.g. <before>..<after>, on a build of the base
branch itself).`,
		Example: "  $ git covenant verify\n  $ git covenant verify --full --json | jq '.findings[] | .kind'\n  $ git show origin/main:.covenant/config.toml > /tmp/pinned.toml && git covenant verify --trust /tmp/pinned.toml\n  $ git covenant verify origin/main..HEAD --require-provenance --format github",
		RunE: func(c *cobra.Command, args []string) error {
			if o.Format != "text" && o.Format != "json" && o.Format != "github" {
				return usagef("--format %q: want text, json or github", o.Format)
			}
			if asJSON {
				o.Format = "json"
			}
			o.Revs = args
			if len(args) == 0 && !o.Stdin && o.PolicyFrom != "" {
				return usagef("--policy-from applies to a revision range; for the feeds use --trust")
			}
			return runCmd(c, o, runF, runVerify)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	c.Flags().BoolVar(&o.Full, "full", false, "re-check every feed from its root instead of only what is new")
	c.Flags().BoolVar(&o.Strict, "strict", false, "fail on conflicts too (ops ignored because they lost a race with concurrent work)")
	c.Flags().BoolVar(&o.RequireProv, "require-provenance", false, "with revisions: every commit needs valid provenance (else the [provenance] policy decides)")
	c.Flags().StringVar(&o.Format, "format", "text", "output: text, json or github (workflow annotations)")
	c.Flags().BoolVar(&o.Stdin, "stdin", false, "with provenance: read the commits to check from standard input, one id per line")
	c.Flags().StringVar(&o.Ref, "ref", "", "with provenance: the ref the commits are bound for, matched against the policy's require list")
	c.Flags().StringVar(&o.TrustFile, "trust", "", "verify against this pinned config (its roots and workflow; for a range also its provenance policy), e.g. the reviewed one from main; implies --full")
	c.Flags().StringVar(&o.PolicyFrom, "policy-from", "", "with revisions: take roots and provenance policy from the config committed at this revision (e.g. origin/main)")
	return c
}

// runVerify verifies the feeds, or with revisions (or --stdin) the
// provenance of those commits.
func runVerify(ctx context.Context, o *verifyOptions) error {
	if len(o.Revs) > 0 || o.Stdin {
		return runProvenanceVerify(ctx, &provenanceVerifyOptions{In: o.In, Out: o.Out, Err: o.Err, Service: o.Service,
			Revs: o.Revs, Stdin: o.Stdin, Require: o.RequireProv, Ref: o.Ref, Format: o.Format, TrustFile: o.TrustFile, PolicyFrom: o.PolicyFrom})
	}
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	opts := covenant.VerifyOptions{Full: o.Full}
	if o.TrustFile != "" {
		raw, err := os.ReadFile(o.TrustFile)
		if err != nil {
			return usagef("--trust: %v", err)
		}
		if opts.Trust, err = config.Parse(raw); err != nil {
			return err
		}
	}
	rep, err := svc.Verify(ctx, opts)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		if err := printJSON(o.Out, rep); err != nil {
			return err
		}
	} else {
		for _, fd := range rep.Findings {
			fmt.Fprintln(o.Out, fd.String())
		}
		conflicts := len(rep.Findings) - rep.Errors()
		status := "ok"
		switch {
		case !rep.OK():
			status = fmt.Sprintf("FAILED: %d problem(s)", rep.Errors())
		case conflicts > 0 && o.Strict:
			status = fmt.Sprintf("FAILED (--strict): %d conflict(s)", conflicts)
		case conflicts > 0:
			status = fmt.Sprintf("ok, %d op(s) ignored as conflicts with concurrent work", conflicts)
		}
		fmt.Fprintf(o.Err, "verified %d feed(s), %d commit(s), %d op(s) applied: %s\n", rep.Feeds, rep.Commits, rep.Applied, status)
	}
	if !rep.OK() || (o.Strict && len(rep.Findings) > 0) {
		return verifyFailed{len(rep.Findings)}
	}
	return nil
}
