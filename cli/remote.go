package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/remote"
	"github.com/spf13/cobra"
)

// newCmdsSync returns the commands that move covenant state between
// clones, in their help groups: remote, sync, state and quarantine.
func newCmdsSync(f *Factory) []*cobra.Command {
	cs := []*cobra.Command{newCmdRemote(f), newCmdSync(f, nil), newCmdState(f), newCmdQuarantine(f)}
	for i, g := range []string{"setup", "work", "audit", "audit"} {
		cs[i].GroupID = g
	}
	return cs
}

func remoteArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return covenant.DefaultRemote
}

func newCmdRemote(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "remote <command>",
		Short: "Configure a git remote to carry covenant refs",
	}
	c.AddCommand(newCmdRemoteSetup(f, nil))
	return c
}

type remoteSetupOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Remote string
	Undo   bool
	JSON   bool
}

func newCmdRemoteSetup(f *Factory, runF func(context.Context, *remoteSetupOptions) error) *cobra.Command {
	o := &remoteSetupOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "setup [<remote>] [--undo] [--json]",
		Short: "Make plain git fetch and git push carry feeds and notes",
		Long: `Add refspecs to the remote's configuration (default origin) so that plain
'git fetch' brings its feeds, lease markers and provenance notes into the
staging namespace refs/covenant/incoming/<remote>/ (nothing there is trusted
until 'git covenant sync' verifies it), and plain 'git push' sends local
feeds and notes, never forced. If the remote had no push refspecs, HEAD is
added too, so 'git push' keeps pushing the current branch.

Running it again changes nothing. --undo removes exactly what setup added.`,
		Example: `  $ git covenant remote setup
  $ git covenant remote setup upstream
  $ git covenant remote setup --undo`,
		Args: maxArgs(1, "one <remote>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Remote = remoteArg(args)
			return runCmd(c, o, runF, runRemoteSetup)
		},
	}
	c.Flags().BoolVar(&o.Undo, "undo", false, "remove what setup added")
	c.Flags().BoolVar(&o.JSON, "json", false, "print what changed as JSON")
	return c
}

func runRemoteSetup(ctx context.Context, o *remoteSetupOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	res, err := svc.SetupRemote(ctx, o.Remote, o.Undo)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, res)
	}
	for _, l := range res.Added {
		fmt.Fprintf(o.Out, "added   %s = %s\n", l.Key, l.Value)
	}
	for _, l := range res.Removed {
		fmt.Fprintf(o.Out, "removed %s = %s\n", l.Key, l.Value)
	}
	if len(res.Added)+len(res.Removed) == 0 {
		if o.Undo {
			fmt.Fprintf(o.Out, "Nothing to undo for remote %s.\n", res.Remote)
		} else {
			fmt.Fprintf(o.Out, "Remote %s is already set up; nothing changed.\n", res.Remote)
		}
	}
	return nil
}

type syncOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Remote string
	JSON   bool
}

func newCmdSync(f *Factory, runF func(context.Context, *syncOptions) error) *cobra.Command {
	o := &syncOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "sync [<remote>] [--json]",
		Short: "Exchange feeds and notes with a remote, verifying everything that comes in",
		Long: `Fetch the remote's feeds and notes (default origin) with git into the staging
namespace refs/covenant/incoming/<remote>/, verify every new commit (signature
by the feed's key, linear history, canonical ops, authority through the fold)
before any local feed moves, fast-forward the local feeds, merge provenance
notes by union, then push local feeds and notes the remote lacks.

A feed that arrives as a second history of a local one (its key signed two
histories) is not applied: both versions are kept under
refs/covenant/quarantine/<key-id>/, verify reports the key as equivocating and
its ops after the fork are ignored until an admin runs 'git covenant
quarantine accept'. A diverging version that does not verify is reported and
left in staging. Nothing is ever force-pushed: if the remote moved during the
push, sync fetches again and retries.

Interrupted at any point, it leaves a consistent repository; run it again to
finish. Exit status 0 when all went well, 10 when something that came in was
refused (each finding is printed), 5 when the remote kept moving.`,
		Example: `  $ git covenant sync
  $ git covenant sync upstream --json | jq '.received[].ops'`,
		Args: maxArgs(1, "one <remote>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Remote = remoteArg(args)
			return runCmd(c, o, runF, runSync)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the report as JSON")
	return c
}

func runSync(ctx context.Context, o *syncOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	rep, err := svc.Sync(ctx, o.Remote)
	if err != nil {
		return err
	}
	if o.JSON {
		if err := printJSON(o.Out, rep); err != nil {
			return err
		}
	} else {
		printSync(o.Out, rep)
	}
	if !rep.OK() {
		return verifyFailed{len(rep.Findings)}
	}
	return nil
}

func feedLabel(name, key string) string {
	if name == "" {
		return key
	}
	return name + " (" + key + ")"
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func printSync(w io.Writer, rep *remote.SyncReport) {
	ops := 0
	for _, u := range rep.Received {
		ops += u.Ops
	}
	if len(rep.Received) == 0 {
		fmt.Fprintf(w, "Received nothing new from %s.\n", rep.Remote)
	} else {
		fmt.Fprintf(w, "Received %d op(s) in %d feed(s) from %s:\n", ops, len(rep.Received), rep.Remote)
		for _, u := range rep.Received {
			from := "new feed"
			if u.From != "" {
				from = short(u.From) + ".." + short(u.To)
			}
			fmt.Fprintf(w, "  %-40s +%d op(s), %s\n", feedLabel(u.Name, u.Feed), u.Ops, from)
		}
	}
	if rep.Notes.Kept > 0 {
		fmt.Fprintf(w, "Notes: kept %d local note(s) the remote's notes lack or differ on (a union never adopts deletions).\n", rep.Notes.Kept)
	}
	for _, why := range rep.Notes.Ignored {
		fmt.Fprintf(w, "Notes: ignored: %s.\n", why)
	}
	if rep.Notes.Received != "" {
		fmt.Fprintf(w, "Notes: %s from %s.\n", rep.Notes.Received, rep.Remote)
	}
	if len(rep.Sent) == 0 {
		fmt.Fprintf(w, "Sent nothing; %s has everything.\n", rep.Remote)
	} else {
		fmt.Fprintf(w, "Sent %d ref(s) to %s:\n", len(rep.Sent), rep.Remote)
		for _, u := range rep.Sent {
			from := "new"
			if u.From != "" {
				from = short(u.From) + ".." + short(u.To)
			}
			fmt.Fprintf(w, "  %-40s %s\n", u.Ref, from)
		}
	}
	for _, q := range rep.Quarantined {
		fmt.Fprintf(w, "Quarantined %s: local %s, %s has %s; see 'git covenant quarantine list'.\n",
			feedLabel(q.Name, q.Feed), short(q.Local), rep.Remote, short(q.Remote))
	}
	for _, h := range rep.Held {
		fmt.Fprintf(w, "Held back: feed %s commit %s (%s) %s.\n", h.Feed, short(h.Commit), h.Op, h.Reason)
	}
	for _, le := range rep.Lost {
		what := "ignored"
		if le.Rejected != nil {
			what = le.Rejected.Kind + ": " + le.Rejected.Reason
		}
		fmt.Fprintf(w, "Lost: your %s %s (epoch %d) is ignored by the fold (%s).\n", le.Type, le.Task, le.Epoch, what)
	}
	for _, fd := range rep.Findings {
		fmt.Fprintln(w, fd.String())
	}
}

func newCmdState(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "state <command>",
		Short: "Inspect the folded state",
	}
	c.AddCommand(newCmdStateDigest(f, nil))
	return c
}

type stateDigestOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdStateDigest(f *Factory, runF func(context.Context, *stateDigestOptions) error) *cobra.Command {
	o := &stateDigestOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:   "digest [--json]",
		Short: "Print a digest of the folded state (equal on clones with the same feeds)",
		Long: `Print the SHA-256 of a canonical serialization of the folded state: every
task in id order, every actor, named identity and capability grant, each as
canonical JSON. Two clones with the same feeds and config print the same
digest; compare it to check that clones converged.`,
		Example: "  $ git covenant state digest\n  $ git covenant state digest --json | jq -r .digest",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runStateDigest) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the digest with counts as JSON")
	return c
}

func runStateDigest(ctx context.Context, o *stateDigestOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	d, err := svc.StateDigest(ctx)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, d)
	}
	fmt.Fprintln(o.Out, d.Digest)
	return nil
}

func newCmdQuarantine(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "quarantine <command>",
		Short: "Inspect and resolve feeds whose key signed two histories",
		Long: `When sync finds that a key signed two histories of its feed (equivocation),
it keeps every version under refs/covenant/quarantine/<key-id>/<commit>,
leaves the local feed where it was, and the fold ignores the key's ops after
the fork. 'quarantine list' shows them; 'quarantine accept' (a trust root or
a holder of identity.admin) keeps one version: the local feed moves to it,
the other versions are remembered under refs/covenant/rejected/<key-id>/ so
sync does not quarantine them again, and the quarantine refs are removed.
To stop trusting the key altogether, revoke it ('git covenant id revoke').`,
	}
	c.AddCommand(newCmdQuarantineList(f, nil), newCmdQuarantineAccept(f, nil))
	return c
}

type quarantineListOptions struct {
	Out, Err io.Writer
	Service  func(context.Context) (*covenant.Service, error)

	JSON bool
}

func newCmdQuarantineList(f *Factory, runF func(context.Context, *quarantineListOptions) error) *cobra.Command {
	o := &quarantineListOptions{Out: f.Out, Err: f.Err, Service: f.Service}
	c := &cobra.Command{
		Use:     "list [--json]",
		Short:   "List quarantined feeds and their versions",
		Example: "  $ git covenant quarantine list\n  $ git covenant quarantine list --json",
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(c *cobra.Command, args []string) error { return runCmd(c, o, runF, runQuarantineList) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array ([] when empty)")
	return c
}

func runQuarantineList(ctx context.Context, o *quarantineListOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	qs, err := svc.Quarantine(ctx)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, qs)
	}
	if len(qs) == 0 {
		fmt.Fprintln(o.Err, "No quarantined feeds.")
	}
	for _, q := range qs {
		base := "nothing shared"
		if q.Base != "" {
			base = "fork after " + short(q.Base)
		}
		fmt.Fprintf(o.Out, "%s: %s\n", feedLabel(q.Name, q.Feed), base)
		for _, v := range q.Versions {
			local := ""
			if v.Local {
				local = "  (local feed)"
			}
			fmt.Fprintf(o.Out, "  %s  seq %d%s\n", v.Commit, v.Seq, local)
		}
	}
	return nil
}

type quarantineAcceptOptions struct {
	Out     io.Writer
	Service func(context.Context) (*covenant.Service, error)

	Feed, Commit string
	JSON         bool
}

func newCmdQuarantineAccept(f *Factory, runF func(context.Context, *quarantineAcceptOptions) error) *cobra.Command {
	o := &quarantineAcceptOptions{Out: f.Out, Service: f.Service}
	c := &cobra.Command{
		Use:     "accept <key-id> <commit>",
		Short:   "Resolve a quarantined feed by keeping one version",
		Example: "  $ git covenant quarantine accept 5b4e09a15ab7ae0f094780c8ff570a3e 0f3c…",
		Args:    exactArgs(2, "<key-id> and <commit>"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Feed, o.Commit = args[0], args[1]
			return runCmd(c, o, runF, runQuarantineAccept)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the result as JSON")
	return c
}

func runQuarantineAccept(ctx context.Context, o *quarantineAcceptOptions) error {
	svc, err := o.Service(ctx)
	if err != nil {
		return err
	}
	res, err := svc.AcceptVersion(ctx, o.Feed, o.Commit)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(o.Out, res)
	}
	fmt.Fprintf(o.Out, "Feed %s now at %s; rejected %d other version(s).\n", res.Feed, res.Accepted, len(res.Rejected))
	return nil
}

// printIgnored says, in task show, which ops on the task the fold ignored,
// naming for a lost lease who holds it instead.
func printIgnored(w io.Writer, d *covenant.TaskDetail) {
	rejected := d.Ignored
	for _, l := range d.Lost {
		fmt.Fprintf(w, "lease lost: %s's %s (epoch %d, %s) lost to %s, who claimed epoch %d at %s\n",
			l.By, l.Type, l.Epoch, l.At.Format(time.RFC3339), l.Holder, l.Epoch, l.HolderAt.Format(time.RFC3339))
	}
	if len(rejected) == 0 {
		return
	}
	fmt.Fprintln(w, "\nignored ops:")
	for _, le := range rejected {
		why := ""
		if le.Rejected != nil {
			why = le.Rejected.Kind + ": " + le.Rejected.Reason
		}
		fmt.Fprintf(w, "  %s  %-12s %-14s %s\n", le.Time.Format(time.RFC3339), le.Actor.Name, le.Type, why)
	}
}
