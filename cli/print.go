package cli

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/tasks"
)

func newBufWriter(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 256<<10) }

// rows streams a list: a JSON array of stored rows copied as they are, or
// text lines. An empty JSON list prints [].
type rows struct {
	*bufio.Writer
	json   bool
	schema string
	n      int
}

// newRows starts a list; JSON rows get the schema (docs/json.md) as their
// first key.
func newRows(w io.Writer, asJSON bool, schema string) *rows {
	r := &rows{Writer: newBufWriter(w), json: asJSON, schema: schema}
	if asJSON {
		r.WriteString("[")
	}
	return r
}

// raw adds one JSON row.
func (r *rows) raw(row []byte) {
	if r.n > 0 {
		r.WriteString(",")
	}
	r.WriteString("\n  ")
	if len(row) > 2 && row[0] == '{' {
		r.WriteString(`{"schema":"`)
		r.WriteString(r.schema)
		r.WriteString(`",`)
		row = row[1:]
	}
	r.Write(row)
	r.n++
}

// close ends the array and flushes.
func (r *rows) close() error {
	if r.json {
		if r.n > 0 {
			r.WriteString("\n")
		}
		r.WriteString("]\n")
	}
	return r.Flush()
}

func printTask(w io.Writer, t *tasks.Task, now time.Time) {
	fmt.Fprintf(w, "%s  %s\n", t.ID, t.Title)
	fmt.Fprintf(w, "state:    %s\npriority: %s\n", t.State, t.Priority)
	if len(t.Labels) > 0 {
		fmt.Fprintf(w, "labels:   %s\n", strings.Join(t.Labels, ", "))
	}
	fmt.Fprintf(w, "created:  %s by %s\n", t.CreatedAt.Format(time.RFC3339), t.CreatedBy.Name)
	if t.Lease != nil {
		status := "active"
		if !t.Lease.ActiveAt(now) {
			status = "expired"
		}
		fmt.Fprintf(w, "lease:    %s, epoch %d, until %s (%s)\n", t.Lease.Holder, t.Lease.Epoch, t.Lease.ExpiresAt.Format(time.RFC3339), status)
	} else {
		fmt.Fprintf(w, "lease:    none\n")
	}
	if t.Body != "" {
		fmt.Fprintf(w, "\n%s\n", t.Body)
	}
	printDetails(w, t)
	if t.Handoff != nil {
		fmt.Fprintln(w)
		printHandoff(w, t.Handoff)
	}
	fmt.Fprintf(w, "\nhistory:\n")
	for _, e := range t.History {
		fmt.Fprintf(w, "  %s  %-12s %-14s %s\n", e.Time.Format(time.RFC3339), e.Actor.Name, e.Type, e.Summary)
	}
}

func printHandoff(w io.Writer, h *tasks.Handoff) {
	by := ""
	if h.By != nil {
		by = " by " + h.By.Name
	}
	fmt.Fprintf(w, "latest handoff (%s%s):\n  %s\n", h.At.Format(time.RFC3339), by, h.Summary)
	if len(h.Next) > 0 {
		fmt.Fprintln(w, "  next steps:")
		for i, s := range h.Next {
			fmt.Fprintf(w, "    %d. %s\n", i+1, s)
		}
	}
	if len(h.Questions) > 0 {
		fmt.Fprintln(w, "  open questions:")
		for _, q := range h.Questions {
			fmt.Fprintf(w, "    - %s\n", q)
		}
	}
	for _, f := range h.Files {
		fmt.Fprintf(w, "  file: %s@%s\n", f.Path, f.Blob[:12])
	}
	fmt.Fprintf(w, "  validation: %s", h.Validation.Status)
	if h.Validation.Note != "" {
		fmt.Fprintf(w, " (%s)", h.Validation.Note)
	}
	fmt.Fprintln(w)
}

// printPack prints a context pack, each fact once.
func printPack(w io.Writer, p *covenant.ContextPack) {
	t := p.Task
	fmt.Fprintf(w, "# %s  %s\n", t.ID, t.Title)
	fmt.Fprintf(w, "state %s, priority %s", t.State, t.Priority)
	if len(t.Labels) > 0 {
		fmt.Fprintf(w, ", labels %s", strings.Join(t.Labels, ", "))
	}
	fmt.Fprintf(w, "; created by %s %s\n", t.CreatedBy, t.CreatedAt.Format(time.RFC3339))
	if l := t.Lease; l != nil {
		status := "expired"
		if l.Active {
			status = "active"
		}
		fmt.Fprintf(w, "lease: %s, epoch %d, until %s (%s)\n", l.Holder, l.Epoch, l.ExpiresAt.Format(time.RFC3339), status)
	}
	if t.Body != "" {
		fmt.Fprintf(w, "\n%s\n", t.Body)
	}
	for _, m := range t.FailureModes {
		fmt.Fprintf(w, "expected failure mode: %s\n", m)
	}
	for _, l := range t.Links {
		fmt.Fprintf(w, "link: %s %s\n", l.Kind, l.Task)
	}
	for _, l := range t.LinkedFrom {
		fmt.Fprintf(w, "link: %s %s\n", reverseKind(l.Kind), l.Task)
	}
	if t.OpenBlockers > 0 {
		fmt.Fprintf(w, "%d unfinished blocker(s)\n", t.OpenBlockers)
	}
	if e := t.Escalation; e != nil {
		fmt.Fprintf(w, "escalation (%s) by %s: %s\n", e.Kind, e.By.Name, e.Reason)
		if e.Resolved != nil {
			fmt.Fprintf(w, "  resolved by %s: %s\n", e.Resolved.Name, e.Decision)
		}
	}
	fmt.Fprintln(w)
	if h := p.Handoff; h == nil {
		fmt.Fprintln(w, "No handoff yet.")
	} else {
		fmt.Fprintf(w, "latest handoff (number %d, %s by %s):\n  %s\n", t.Handoffs, h.At.Format(time.RFC3339), h.By, h.Summary)
		for i, s := range h.Next {
			fmt.Fprintf(w, "  next %d. %s\n", i+1, s)
		}
		fmt.Fprintf(w, "  validation: %s", h.Validation.Status)
		if h.Validation.Note != "" {
			fmt.Fprintf(w, " (%s)", h.Validation.Note)
		}
		fmt.Fprintln(w)
	}
	if len(p.OpenQuestions) > 0 {
		fmt.Fprintf(w, "\nopen questions (git covenant task answer %s <n> <answer>):\n", t.ID)
		for _, q := range p.OpenQuestions {
			fmt.Fprintf(w, "  %d. %s (%s, %s)\n", q.N, q.Text, q.By.Name, q.At.Format(time.RFC3339))
		}
	}
	if len(p.Moves) > 0 {
		fmt.Fprintf(w, "\nmoves from %s (git covenant task move %s <state>):\n", t.State, t.ID)
		for _, m := range p.Moves {
			fmt.Fprintf(w, "  %s", m.To)
			if len(m.Roles) > 0 {
				fmt.Fprintf(w, " (%s only)", strings.Join(m.Roles, " or "))
			}
			if m.Ready {
				fmt.Fprintln(w, ": ready")
				continue
			}
			fmt.Fprintln(w, ":")
			for _, g := range m.Gates {
				if !g.Satisfied {
					fmt.Fprintf(w, "    %s needs %s\n", g.Gate, g.Needs)
				}
			}
		}
	}
	fmt.Fprintf(w, "\ntrailers for commits: %s\n", strings.Join(p.Trailers, ", "))
	if len(p.Commits) > 0 {
		fmt.Fprintf(w, "\ncommits naming %s:\n", t.ID)
		for _, c := range p.Commits {
			fmt.Fprintf(w, "  %s %s\n", c.Hash[:12], c.Subject)
		}
	}
	if s := p.SinceHandoff; s != nil {
		fmt.Fprintln(w, "\nsince the handoff:")
		if len(s.Commits) == 0 {
			fmt.Fprintln(w, "  no new commits")
		}
		for _, c := range s.Commits {
			fmt.Fprintf(w, "  new commit %s %s\n", c.Hash[:12], c.Subject)
		}
		for _, f := range s.Files {
			fmt.Fprintf(w, "  %-9s %s@%s\n", f.Status, f.Path, f.Handoff[:12])
		}
	}
	printMemories(w, p.Memories)
	fmt.Fprintf(w, "\nhistory:\n")
	for _, e := range p.History {
		summary := e.Summary
		if summary == "" && e.Type == tasks.OpHandoff {
			summary = "(the latest handoff, above)"
		}
		fmt.Fprintf(w, "  %s  %-12s %-14s %s\n", e.At.Format(time.RFC3339), e.By, e.Type, summary)
	}
}

// printDetails prints what a task carries beyond its title and body.
func printDetails(w io.Writer, t *tasks.Task) {
	if len(t.FailureModes) > 0 {
		fmt.Fprintln(w, "\nexpected failure modes:")
		for _, m := range t.FailureModes {
			fmt.Fprintf(w, "  - %s\n", m)
		}
	}
	if len(t.Links)+len(t.LinkedFrom) > 0 {
		fmt.Fprintln(w, "\nlinks:")
		for _, l := range t.Links {
			fmt.Fprintf(w, "  %s %s\n", l.Kind, l.Task)
		}
		for _, l := range t.LinkedFrom {
			fmt.Fprintf(w, "  %s %s\n", reverseKind(l.Kind), l.Task)
		}
		if t.OpenBlockers > 0 {
			fmt.Fprintf(w, "  %d unfinished blocker(s)\n", t.OpenBlockers)
		}
	}
	if len(t.Gates) > 0 {
		fmt.Fprintln(w, "\ngates:")
		names := make([]string, 0, len(t.Gates))
		for n := range t.Gates {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			g := t.Gates[n]
			status := "not satisfied"
			if g.Satisfied {
				status = "satisfied"
			}
			detail := g.Verdict
			if g.Check != nil {
				detail = fmt.Sprintf("%s exited %d", strings.Join(g.Check.Command, " "), g.Check.ExitCode)
			}
			fmt.Fprintf(w, "  %-12s %s: %s by %s", n, status, detail, g.By.Name)
			if g.Reason != "" {
				fmt.Fprintf(w, " (%s)", g.Reason)
			}
			fmt.Fprintln(w)
		}
	}
	if e := t.Escalation; e != nil {
		fmt.Fprintf(w, "\nescalation (%s) by %s: %s\n", e.Kind, e.By.Name, e.Reason)
		if e.Resolved != nil {
			fmt.Fprintf(w, "  resolved by %s: %s\n", e.Resolved.Name, e.Decision)
		}
	}
	if len(t.Comments) > 0 {
		fmt.Fprintln(w, "\ncomments:")
		for _, c := range t.Comments {
			fmt.Fprintf(w, "  %s %s: %s\n", c.At.Format(time.RFC3339), c.By.Name, c.Text)
		}
	}
}

func reverseKind(k string) string {
	switch k {
	case "blocks":
		return "blocked by"
	case "parent-of":
		return "child of"
	case "discovered-from":
		return "led to"
	}
	return k
}

// printMemories prints the memories a pack or primer carries.
func printMemories(w io.Writer, ms []covenant.PackMemory) {
	if len(ms) == 0 {
		return
	}
	fmt.Fprintln(w, "\nmemories (git covenant memory show <id>):")
	for _, m := range ms {
		stale := ""
		if m.Stale {
			stale = ", stale"
		}
		fmt.Fprintf(w, "  %s %s (%s%s): %s\n", m.ID, m.Tier, m.Why, stale, strings.ReplaceAll(m.Text, "\n", "\n    "))
	}
}
