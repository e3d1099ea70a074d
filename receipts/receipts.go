package receipts

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/runs"
)

// ErrBadID means a receipt id is not run-<16 hex>.<unit>.
var ErrBadID = errors.New("invalid receipt id")

// Resource kinds a receipt accounts for.
const (
	Compute = "compute"
	Memory  = "memory"
	Tool    = "tool"
	Message = "message"
)

// Kinds lists every resource kind. Tool receipts are reserved for tool
// calls reported by an agent; run records carry none yet.
var Kinds = []string{Compute, Memory, Tool, Message}

// Units a receipt counts in, one receipt per unit per run.
const (
	WallMS   = "wall_ms"   // compute: the run's wall-clock time
	CPUMS    = "cpu_ms"    // compute: user+system CPU time of the agent's process group
	RSSBytes = "rss_bytes" // memory: the largest resident set
	Tokens   = "tokens"    // message: model tokens in and out, with the credits reported
)

var unitKind = map[string]string{WallMS: Compute, CPUMS: Compute, RSSBytes: Memory, Tokens: Message}

// Receipt is what one run used of one resource. Its fields are declared
// in the order of their JSON names, so encoding/json's output is the
// canonical form (sorted keys, no spaces; strings are ASCII by
// construction).
type Receipt struct {
	At      string `json:"at"`      // when the run started, RFC 3339 UTC
	Credits int64  `json:"credits"` // credits reported for the run (on the tokens receipt)
	ID      string `json:"id"`      // <run>.<unit>
	Kind    string `json:"kind"`    // compute | memory | tool | message
	Op      string `json:"op"`      // the run.record op (feed commit) it derives from
	Payer   string `json:"payer"`   // the identity the run acted as
	Run     string `json:"run"`
	Task    string `json:"task"`
	Unit    string `json:"unit"`
	Units   int64  `json:"units"`
	V       int    `json:"v"`       // 1
	Witness string `json:"witness"` // the daemon identity that signed the record
}

// Canonical is the receipt's canonical bytes: a Merkle leaf is
// 0x00 || Canonical (RFC 6962).
func (r *Receipt) Canonical() []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // a struct of strings and integers always encodes
	}
	return b
}

// FromRun returns the receipts of one run record, in unit order: wall and
// CPU time always, memory when the run reported its resident set, tokens
// when the agent reported usage or credits.
func FromRun(rec *runs.Record) []Receipt {
	at := rec.Started
	if t, err := time.Parse(time.RFC3339, rec.Started); err == nil {
		at = t.UTC().Format(time.RFC3339)
	}
	mk := func(unit string, units, credits int64) Receipt {
		return Receipt{At: at, Credits: credits, ID: rec.Run + "." + unit, Kind: unitKind[unit], Op: rec.Op,
			Payer: rec.Agent, Run: rec.Run, Task: rec.Task, Unit: unit, Units: units, V: 1, Witness: rec.By.Name}
	}
	out := []Receipt{mk(WallMS, rec.DurationMS, 0), mk(CPUMS, rec.CPUMS, 0)}
	if rec.MaxRSS > 0 {
		out = append(out, mk(RSSBytes, rec.MaxRSS, 0))
	}
	if rec.Tokens != nil || rec.Credits > 0 {
		var n int64
		if rec.Tokens != nil {
			n = rec.Tokens.Input + rec.Tokens.Output
		}
		out = append(out, mk(Tokens, n, rec.Credits))
	}
	return out
}

var idRE = &lazyre.Regexp{Expr: `^(run-[0-9a-f]{16})\.([a-z_]+)$`}

// ParseID splits a receipt id into its run id and unit.
func ParseID(id string) (run, unit string, err error) {
	m := idRE.FindStringSubmatch(id)
	if m == nil || unitKind[m[2]] == "" {
		return "", "", fmt.Errorf("%w: %q (want run-<16 hex digits>.{%s})", ErrBadID, id, strings.Join([]string{WallMS, CPUMS, RSSBytes, Tokens}, " | "))
	}
	return m[1], m[2], nil
}

// Find returns the receipt id of a run record, or false.
func Find(rec *runs.Record, id string) (Receipt, bool) {
	for _, r := range FromRun(rec) {
		if r.ID == id {
			return r, true
		}
	}
	return Receipt{}, false
}
