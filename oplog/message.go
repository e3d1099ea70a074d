package oplog

import (
	"fmt"
	"strings"
)

// Message renders the commit message of an op's feed commit: a one-line
// summary, then Covenant-* trailers, so that `git log` of a feed reads as
// the actor's audit trail.
func Message(o *Op, summary string) string {
	summary = strings.Join(strings.Fields(summary), " ")
	if len(summary) > 72 {
		summary = summary[:69] + "..."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s", o.Type)
	if summary != "" {
		fmt.Fprintf(&b, ": %s", summary)
	}
	fmt.Fprintf(&b, "\n\nCovenant-Op: %s\n", o.Type)
	if o.Task != "" {
		fmt.Fprintf(&b, "Covenant-Task: %s\n", o.Task)
	}
	if o.Epoch != 0 {
		fmt.Fprintf(&b, "Covenant-Lease: %d\n", o.Epoch)
	}
	fmt.Fprintf(&b, "Covenant-Seq: %d\nCovenant-Lamport: %d\n", o.Seq, o.Lamport)
	return b.String()
}

// Trailers extracts "Key: value" trailers from the last paragraph of a commit message.
func Trailers(msg string) map[string][]string {
	out := map[string][]string{}
	paras := strings.Split(strings.TrimRight(msg, "\n"), "\n\n")
	if len(paras) < 2 {
		return out
	}
	for _, line := range strings.Split(paras[len(paras)-1], "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || strings.ContainsAny(k, " \t") {
			continue
		}
		out[k] = append(out[k], strings.TrimSpace(v))
	}
	return out
}
