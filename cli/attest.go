package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/git-covenant/git-covenant/attest/checkpoint"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/spf13/cobra"
)

func newCmdAttest(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "attest <command>",
		Short: "Sign and verify audit-root checkpoints over the feeds",
		Long: `An audit root is a checkpoint over the current feed heads: a root digest
(sha256 over the sorted "key-id head" lines), the number of ops folded and
the previous checkpoint, bound when given to release artifacts by name and
sha256. It is stored as an ` + checkpoint.OpType + ` op in the signer's feed
('git covenant log' shows it) and exported as an in-toto statement signed as
DSSE and packed as a sigstore bundle.`,
	}
	c.AddCommand(newCmdAttestAuditRoot(f, nil), newCmdAttestVerify(f, nil))
	return c
}

type attestAuditRootOptions struct {
	Out, Err io.Writer
	Service  func(context.Context) (*covenant.Service, error)

	Releases []string
	Output   string // the bundle file to write
	JSON     bool
}

func newCmdAttestAuditRoot(f *Factory, runF func(context.Context, *attestAuditRootOptions) error) *cobra.Command {
	o := &attestAuditRootOptions{Out: f.Out, Err: f.Err, Service: f.Service}
	c := &cobra.Command{
		Use:   "audit-root [--release <file>...] [--out <file>] [--json]",
		Short: "Sign a checkpoint over the current feed heads, bound to release files",
		Long: `Write an ` + checkpoint.OpType + ` op over the current feed heads to your feed and
produce a signed in-toto statement about it (subjects: each release file by
sha256 and the root digest as "` + checkpoint.RootSubject + `"), packed as a sigstore
bundle: written to --out, or printed with --json. Needs a trusted identity.`,
		Example: "  $ git covenant attest audit-root --release dist/app.tar.gz --out app.audit.sigstore.json",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runAttestAuditRoot) },
	}
	c.Flags().StringArrayVar(&o.Releases, "release", nil, "a release file to bind by name and sha256 (repeatable)")
	c.Flags().StringVarP(&o.Output, "out", "o", "", "write the bundle to this file")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the checkpoint and the bundle as JSON")
	return c
}

func runAttestAuditRoot(ctx context.Context, o *attestAuditRootOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	ar, err := svc.SignAuditRoot(ctx, o.Releases)
	if err != nil {
		return err
	}
	if o.Output != "" {
		if err := os.WriteFile(o.Output, append(ar.Bundle, '\n'), 0o644); err != nil {
			return err
		}
	}
	if o.JSON {
		return printJSON(o.Out, ar)
	}
	p := ar.Predicate
	fmt.Fprintf(o.Out, "checkpoint %s root sha256:%s over %d feed(s), %d op(s)\n", p.Checkpoint, p.Root, len(p.Heads), p.Ops)
	for _, a := range p.Release {
		fmt.Fprintf(o.Out, "release %s sha256:%s\n", a.Name, a.SHA256)
	}
	if o.Output != "" {
		fmt.Fprintf(o.Err, "bundle written to %s\n", o.Output)
	} else {
		fmt.Fprintln(o.Err, "no --out given: the bundle was not saved (use --out <file> or --json)")
	}
	return nil
}

type attestVerifyOptions struct {
	Out, Err io.Writer
	Service  func(context.Context) (*covenant.Service, error)

	Bundle   string // the bundle file's name
	Raw      []byte // its contents
	Releases []string
	JSON     bool
}

func newCmdAttestVerify(f *Factory, runF func(context.Context, *attestVerifyOptions) error) *cobra.Command {
	o := &attestVerifyOptions{Out: f.Out, Err: f.Err, Service: f.Service}
	c := &cobra.Command{
		Use:   "verify <bundle> [--release <file>...] [--json]",
		Short: "Check an audit-root bundle against the repository",
		Long: `Check the bundle's signature under the signer's key from the folded
identities, that the checkpoint op it names is in the signer's feed, that
its root digest matches the heads the op recorded, and that each release
file it binds still hashes the same. A release file is looked for among
--release (by base name), else next to the bundle; one not found is
reported absent and not checked. Exit 10 when a check fails.`,
		Example: "  $ git covenant attest verify app.audit.sigstore.json --release dist/app.tar.gz",
		Args:    exactArgs(1, "one bundle file"),
		RunE: func(c *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return usagef("%v", err)
			}
			o.Bundle, o.Raw = args[0], raw
			return runCmd(c, o, runF, runAttestVerify)
		},
	}
	c.Flags().StringArrayVar(&o.Releases, "release", nil, "where a release file the bundle binds is (repeatable)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the result as JSON")
	return c
}

func runAttestVerify(ctx context.Context, o *attestVerifyOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	res, err := svc.VerifyAuditRoot(ctx, o.Bundle, o.Raw, o.Releases)
	if err != nil {
		return err
	}
	if o.JSON {
		if err := printJSON(o.Out, res); err != nil {
			return err
		}
	} else {
		if res.Checkpoint != "" {
			fmt.Fprintf(o.Out, "checkpoint %s root sha256:%s signed by %s\n", res.Checkpoint, res.Root, res.Signer)
		}
		for _, rc := range res.Release {
			fmt.Fprintf(o.Out, "release %-7s %s %s\n", rc.Status, rc.Name, rc.Path)
		}
		for _, l := range res.Reasons() {
			fmt.Fprintf(o.Out, "    %s\n", l)
		}
	}
	if !res.OK() {
		fmt.Fprintf(o.Err, "audit root FAILED: %s\n", res.Reasons()[0])
		return verifyFailed{len(res.Problems)}
	}
	fmt.Fprintln(o.Err, "audit root verified")
	return nil
}
