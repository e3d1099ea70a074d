package cli

import (
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
	cs := []*cobra.Command{newCmdRemote(f), newCmdSync(f), newCmdState(f), newCmdQuarantine(f)}
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
	var undo, asJSON bool
	setup := &cobra.Command{
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
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			res, err := svc.SetupRemote(c.Context(), remoteArg(args), undo)
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(res)
			}
			for _, l := range res.Added {
				fmt.Fprintf(f.Out, "added   %s = %s\n", l.Key, l.Value)
			}
			for _, l := range res.Removed {
				fmt.Fprintf(f.Out, "removed %s = %s\n", l.Key, l.Value)
			}
			if len(res.Added)+len(res.Removed) == 0 {
				if undo {
					fmt.Fprintf(f.Out, "Nothing to undo for remote %s.\n", res.Remote)
				} else {
					fmt.Fprintf(f.Out, "Remote %s is already set up; nothing changed.\n", res.Remote)
				}
			}
			return nil
		},
	}
	setup.Flags().BoolVar(&undo, "undo", false, "remove what setup added")
	setup.Flags().BoolVar(&asJSON, "json", false, "print what changed as JSON")
	c.AddCommand(setup)
	return c
}

func newCmdSync(f *Factory) *cobra.Command {
	var asJSON bool
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
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			rep, err := svc.Sync(c.Context(), remoteArg(args))
			if err != nil {
				return err
			}
			if asJSON {
				if err := f.printJSON(rep); err != nil {
					return err
				}
			} else {
				printSync(f.Out, rep)
			}
			if !rep.OK() {
				return verifyFailed{len(rep.Findings)}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
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
	var asJSON bool
	digest := &cobra.Command{
		Use:   "digest [--json]",
		Short: "Print a digest of the folded state (equal on clones with the same feeds)",
		Long: `Print the SHA-256 of a canonical serialization of the folded state: every
task in id order, every actor, named identity and capability grant, each as
canonical JSON. Two clones with the same feeds and config print the same
digest; compare it to check that clones converged.`,
		Example: "  $ git covenant state digest\n  $ git covenant state digest --json | jq -r .digest",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			d, err := svc.StateDigest(c.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(d)
			}
			fmt.Fprintln(f.Out, d.Digest)
			return nil
		},
	}
	digest.Flags().BoolVar(&asJSON, "json", false, "print the digest with counts as JSON")
	c.AddCommand(digest)
	return c
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
	var asJSON bool
	list := &cobra.Command{
		Use:     "list [--json]",
		Short:   "List quarantined feeds and their versions",
		Example: "  $ git covenant quarantine list\n  $ git covenant quarantine list --json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			qs, err := svc.Quarantine(c.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return f.printJSON(qs)
			}
			if len(qs) == 0 {
				fmt.Fprintln(f.Err, "No quarantined feeds.")
			}
			for _, q := range qs {
				base := "nothing shared"
				if q.Base != "" {
					base = "fork after " + short(q.Base)
				}
				fmt.Fprintf(f.Out, "%s: %s\n", feedLabel(q.Name, q.Feed), base)
				for _, v := range q.Versions {
					local := ""
					if v.Local {
						local = "  (local feed)"
					}
					fmt.Fprintf(f.Out, "  %s  seq %d%s\n", v.Commit, v.Seq, local)
				}
			}
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print a JSON array ([] when empty)")
	var acceptJSON bool
	accept := &cobra.Command{
		Use:     "accept <key-id> <commit>",
		Short:   "Resolve a quarantined feed by keeping one version",
		Example: "  $ git covenant quarantine accept 5b4e09a15ab7ae0f094780c8ff570a3e 0f3c…",
		Args:    exactArgs(2, "<key-id> and <commit>"),
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := f.Service(c.Context())
			if err != nil {
				return err
			}
			res, err := svc.AcceptVersion(c.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if acceptJSON {
				return f.printJSON(res)
			}
			fmt.Fprintf(f.Out, "Feed %s now at %s; rejected %d other version(s).\n", res.Feed, res.Accepted, len(res.Rejected))
			return nil
		},
	}
	accept.Flags().BoolVar(&acceptJSON, "json", false, "print the result as JSON")
	c.AddCommand(list, accept)
	return c
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
