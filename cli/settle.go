package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/settle"
	"github.com/spf13/cobra"
)

func newCmdSettle(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "settle <command>",
		Short: "Batch receipts under Merkle roots, prove and verify inclusion, anchor roots on Solana",
		Long: `'settle batch' writes a signed settle.batch op with the RFC 6962 Merkle root
over the receipts no batch holds yet (the fold recomputes the root, so a
batch cannot commit to other bytes). 'settle proof' prints a receipt's
inclusion proof; 'settle verify' checks one offline, against this clone's
batch and signed run record. 'settle anchor' publishes a batch root on
Solana in a memo signed by the identity's own ed25519 key, 'settle status'
confirms the recorded anchors.`,
	}
	c.AddCommand(newCmdSettleBatch(f, nil), newCmdSettleProof(f, nil), newCmdSettleVerify(f, nil))
	return c
}

type settleBatchOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Max  int
	JSON bool
}

func newCmdSettleBatch(f *Factory, runF func(context.Context, *settleBatchOptions) error) *cobra.Command {
	o := &settleBatchOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "batch [--max <n>] [--json]",
		Short:   "Batch the receipts no batch holds yet under a Merkle root",
		Long:    "Needs settle.write (or a daemon identity). Writes one op per --max receipts (at most 10000), all at once; prints nothing new when every receipt is batched.",
		Example: "  $ git covenant settle batch\n  $ git covenant settle batch --json | jq -r '.[].root'",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, _ []string) error { return runCmd(c, o, runF, runSettleBatch) },
	}
	c.Flags().IntVar(&o.Max, "max", settle.MaxBatch, "receipts per batch op (1 to 10000)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array of settle-batch/1 ([] when nothing was batched)")
	return c
}

func runSettleBatch(ctx context.Context, o *settleBatchOptions) error {
	if o.Max < 1 || o.Max > settle.MaxBatch {
		return usagef("--max %d: want 1 to %d", o.Max, settle.MaxBatch)
	}
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	bs, err := svc.SettleBatch(ctx, o.Max)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, bs)
	}
	if len(bs) == 0 {
		fmt.Fprintln(o.Out, "every receipt is batched already")
	}
	for _, b := range bs {
		fmt.Fprintf(o.Out, "%s: %d receipt(s) %s..%s, root %s\n", b.ID, b.Count, b.First, b.Last, b.Root)
	}
	return nil
}

type settleProofOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Receipt string
	JSON    bool
}

func newCmdSettleProof(f *Factory, runF func(context.Context, *settleProofOptions) error) *cobra.Command {
	o := &settleProofOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "proof <receipt> [--json]",
		Short: "Print the inclusion proof of a batched receipt",
		Long: `The proof holds the receipt's canonical bytes, its leaf index, the tree size,
the audit path and the root: with --json it is a file 'settle verify
--proof' checks.`,
		Example: "  $ git covenant settle proof run-0123456789abcdef.cpu_ms\n  $ git covenant settle proof run-0123456789abcdef.cpu_ms --json > proof.json",
		Args:    exactArgs(1, "one <receipt>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Receipt = args[0]
			return runCmd(c, o, runF, runSettleProof)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the proof as settle-proof/1")
	return c
}

func runSettleProof(ctx context.Context, o *settleProofOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	p, err := svc.SettleProof(ctx, o.Receipt)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, p)
	}
	fmt.Fprintf(o.Out, "receipt %s is leaf %d of %d in batch %s\nroot %s\nleaf %s\n", p.Receipt, p.Index, p.Size, p.Batch, p.Root, p.LeafHash)
	for i, h := range p.Path {
		fmt.Fprintf(o.Out, "path[%d] %s\n", i, h)
	}
	return nil
}

type settleVerifyOptions struct {
	Out      io.Writer
	Service  func(context.Context) (*covenant.Service, error)
	ReadFile func(string) ([]byte, error)

	Receipt string
	Proof   string
	JSON    bool
}

func newCmdSettleVerify(f *Factory, runF func(context.Context, *settleVerifyOptions) error) *cobra.Command {
	o := &settleVerifyOptions{Out: f.Out, Service: f.Service, ReadFile: os.ReadFile}
	c := &cobra.Command{
		Use:   "verify <receipt> [--proof <file>] [--json]",
		Short: "Check a receipt's inclusion proof offline",
		Long: `Checks the proof (from --proof, a 'settle proof --json' file, else built from
this clone) on its own, then against this clone's batch (root, size, leaf)
and the receipt as this clone derives it from its signed run record. No
network. Exits 10 when the proof does not hold.`,
		Example: "  $ git covenant settle verify run-0123456789abcdef.cpu_ms --proof proof.json",
		Args:    exactArgs(1, "one <receipt>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Receipt = args[0]
			return runCmd(c, o, runF, runSettleVerify)
		},
	}
	c.Flags().StringVar(&o.Proof, "proof", "", "the proof file (settle proof --json)")
	c.Flags().BoolVar(&o.JSON, "json", false, "print the result as settle-verify/1")
	return c
}

func runSettleVerify(ctx context.Context, o *settleVerifyOptions) error {
	var p *settle.Proof
	if o.Proof != "" {
		raw, err := o.ReadFile(o.Proof)
		if err != nil {
			return usagef("--proof: %v", err)
		}
		p = &settle.Proof{}
		if err := json.Unmarshal(raw, p); err != nil {
			return usagef("--proof %s: not a settle-proof/1 file: %v", o.Proof, err)
		}
	}
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	check, err := svc.SettleVerify(ctx, o.Receipt, p)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, check)
	}
	fmt.Fprintf(o.Out, "ok: receipt %s is leaf %d of %d under root %s (batch %s)\n", check.Receipt, check.Index, check.Size, check.Root, check.Batch)
	if check.Anchored != "" {
		fmt.Fprintf(o.Out, "the batch is anchored: %s\n", check.Anchored)
	}
	return nil
}
