package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/spf13/cobra"
)

func newCmdReceipts(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "receipts <command>",
		Short: "List the receipts of what runs used",
		Long: `Every run record the daemon signs is a receipt of what the run used: one
receipt per resource (wall and CPU time: compute; the largest resident set:
memory; model tokens and the credits the agent reported: message), each
naming the identity that pays for it. A receipt is derived from its signed
run record, so it cannot disagree with it; 'settle batch' commits to
receipts under a Merkle root.`,
	}
	c.AddCommand(newCmdReceiptsList(f, nil))
	return c
}

type receiptsListOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdReceiptsList(f *Factory, runF func(context.Context, *receiptsListOptions) error) *cobra.Command {
	o := &receiptsListOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "list [--json]",
		Short:   "List every receipt, oldest run first, with the batch that holds it",
		Example: "  $ git covenant receipts list\n  $ git covenant receipts list --json | jq '.[] | select(.kind == \"message\")'",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, _ []string) error { return runCmd(c, o, runF, runReceiptsList) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array ([] when empty)")
	return c
}

func runReceiptsList(ctx context.Context, o *receiptsListOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	rs, err := svc.Receipts(ctx)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, rs)
	}
	tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIPT\tPAYER\tKIND\tUNITS\tCREDITS\tTASK\tBATCH")
	for _, r := range rs {
		b := r.Batch
		if b == "" {
			b = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d %s\t%d\t%s\t%s\n", r.ID, r.Payer, r.Kind, r.Units, r.Unit, r.Credits, r.Task, b)
	}
	return tw.Flush()
}
