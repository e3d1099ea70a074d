package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/glob"
	"github.com/git-covenant/git-covenant/internal/lazyre"
	"github.com/git-covenant/git-covenant/oplog"
)

// Scopes: the one documented list. review.<gate> names any approval gate.
const (
	ScopeTaskCreate    = "task.create"
	ScopeTaskClaim     = "task.claim"
	ScopeTaskMove      = "task.move"
	ScopeTaskHandoff   = "task.handoff"
	ScopeTaskLink      = "task.link"
	ScopeTaskComment   = "task.comment"
	ScopeTaskCheck     = "task.check"
	ScopeTaskEscalate  = "task.escalate"
	ScopeReviewPrefix  = "review."
	ScopeResolve       = "escalation.resolve"
	ScopeIdentityAdmin = "identity.admin"
	ScopeProvenance    = "provenance.record"
	ScopeMemory        = "memory.write" // every tier
	// Per-tier memory scopes (package memory): writing, forgetting,
	// restoring and marking memories of one tier.
	ScopeMemoryWorking  = "memory.working"
	ScopeMemoryEpisodic = "memory.episodic"
	ScopeMemoryLongterm = "memory.longterm"
	ScopeA2A            = "a2a.send"
	ScopeA2ASendPrefix  = "a2a.send."
	ScopeA2AReceive     = "a2a.receive"
	ScopeA2ARespond     = "a2a.respond"
	ScopeA2ARepair      = "a2a.repair"
	ScopeBudget         = "budget.admin"
	ScopeSettle         = "settle.write"
)

// ScopeA2ASendTo is the scope of sending agent-to-agent messages to one
// identity: a2a.send.<identity>.
func ScopeA2ASendTo(identity string) string { return ScopeA2ASendPrefix + identity }

// Scopes lists every scope with what it allows. An attest.checkpoint op
// (an audit root, package attest/checkpoint) needs none: any trusted actor
// may sign a checkpoint over the feed heads, since it asserts nothing about
// tasks or code beyond what the feeds already hold.
var Scopes = []struct{ Name, Allows string }{
	{ScopeTaskCreate, "create tasks"},
	{ScopeTaskClaim, "claim tasks, heartbeat and release leases"},
	{ScopeTaskMove, "move tasks between workflow states"},
	{ScopeTaskHandoff, "record handoffs"},
	{ScopeTaskLink, "link tasks"},
	{ScopeTaskComment, "comment on tasks"},
	{ScopeTaskCheck, "record check evidence for gates"},
	{ScopeTaskEscalate, "escalate tasks to a human"},
	{"review.<gate>", "approve or reject the approval gate <gate>, e.g. review.code"},
	{ScopeResolve, "resolve escalations (human identities only)"},
	{ScopeIdentityAdmin, "register, rotate and revoke identities"},
	{ScopeProvenance, "record provenance for commits"},
	{ScopeMemory, "write shared memory of every tier"},
	{ScopeMemoryWorking, "write working-tier memory (notes for a task in progress)"},
	{ScopeMemoryEpisodic, "write episodic memory (accounts of what happened)"},
	{ScopeMemoryLongterm, "write long-term project memory"},
	{ScopeA2A, "send agent-to-agent messages to any identity"},
	{"a2a.send.<identity>", "send agent-to-agent messages to <identity> only, e.g. a2a.send.reviewer"},
	{ScopeA2AReceive, "claim agent-to-agent messages addressed to oneself"},
	{ScopeA2ARespond, "answer agent-to-agent messages one holds the lease of"},
	{ScopeA2ARepair, "requeue or fail other identities' agent-to-agent messages (naming the current lease)"},
	{ScopeBudget, "set budgets and resume paused runs"},
	{ScopeSettle, "batch receipts and record anchors"},
}

var (
	reviewRE = &lazyre.Regexp{Expr: `^review\.[a-z0-9][a-z0-9._-]*$`}
	// a2aSendRE: a2a.send.<identity>, the identity name's syntax.
	a2aSendRE = &lazyre.Regexp{Expr: `^a2a\.send\.[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`}
)

// CheckScope validates a scope name against the list.
func CheckScope(s string) error {
	if reviewRE.MatchString(s) || a2aSendRE.MatchString(s) {
		return nil
	}
	for _, sc := range Scopes {
		if sc.Name == s && !strings.Contains(s, "<") {
			return nil
		}
	}
	names := []string{}
	for _, sc := range Scopes {
		names = append(names, sc.Name)
	}
	return fmt.Errorf("unknown scope %q (scopes: %s)", s, strings.Join(names, ", "))
}

// Grant is a signed, scoped capability given to a named identity.
type Grant struct {
	ID        string      `json:"id"`
	To        string      `json:"to"`
	Scopes    []string    `json:"scopes"`
	Labels    []string    `json:"labels"` // if any: only tasks with one of these labels
	Paths     []string    `json:"paths"`  // if any: only files matching these globs
	ExpiresAt *time.Time  `json:"expires_at"`
	MaxUses   int         `json:"max_uses"` // 0: unlimited
	Uses      int         `json:"uses"`
	Delegable bool        `json:"delegable"`
	Parent    string      `json:"parent,omitempty"`
	By        string      `json:"by"`     // granter's identity name
	ByKey     string      `json:"by_key"` // granter's key id
	At        time.Time   `json:"at"`
	Op        string      `json:"op"`
	Revoked   *Revocation `json:"revoked,omitempty"`
}

// GrantID derives a grant's id from the op that made it.
func GrantID(actor string, seq uint64) string {
	sum := sha256.Sum256([]byte("covenant-grant\x00" + actor + "\x00" + strconv.FormatUint(seq, 10)))
	return "cap-" + hex.EncodeToString(sum[:6])
}

// Need is what an op requires: a scope, and the labels of the task it acts
// on (for label-restricted grants).
type Need struct {
	Scope  string
	Labels []string
	Path   string
	Seq    uint64 // the op's seq, for grant cut-offs; 0 for checks outside the fold
}

// valid reports why a grant cannot be used at t, or "". With countUses, a
// grant and every grant up its delegation chain must have uses left: the
// uses of a grant's descendants count against it.
func valid(st State, g *Grant, t time.Time, countUses bool) (string, error) {
	for depth := 0; g != nil && depth < 32; depth++ {
		switch {
		case g.Revoked != nil:
			return fmt.Sprintf("grant %s was revoked by %s: %s", g.ID, g.Revoked.By, g.Revoked.Reason), nil
		case g.ExpiresAt != nil && !t.Before(*g.ExpiresAt):
			return fmt.Sprintf("grant %s expired at %s", g.ID, g.ExpiresAt.Format(time.RFC3339)), nil
		case countUses && g.MaxUses > 0 && g.Uses >= g.MaxUses:
			return fmt.Sprintf("grant %s is used up (%d of %d uses)", g.ID, g.Uses, g.MaxUses), nil
		}
		if p, err := st.Principal(g.To); err != nil {
			return "", err
		} else if p == nil || p.Revoked != nil {
			return fmt.Sprintf("grant %s is to revoked identity %s", g.ID, g.To), nil
		}
		if g.Parent == "" {
			return "", nil
		}
		parent, err := st.Grant(g.Parent)
		if err != nil {
			return "", err
		}
		if parent == nil {
			return fmt.Sprintf("grant %s delegates from unknown grant %s", g.ID, g.Parent), nil
		}
		g = parent
	}
	return "delegation chain too deep", nil
}

func covers(g *Grant, n Need) string {
	ok := false
	for _, s := range g.Scopes {
		ok = ok || s == n.Scope
	}
	if !ok {
		return ""
	}
	if len(g.Labels) > 0 {
		match := false
		for _, l := range g.Labels {
			for _, m := range n.Labels {
				match = match || l == m
			}
		}
		if !match {
			return fmt.Sprintf("grant %s covers %s only for labels %s", g.ID, n.Scope, strings.Join(g.Labels, ", "))
		}
	}
	if len(g.Paths) > 0 && n.Path != "" {
		match := false
		for _, p := range g.Paths {
			match = match || glob.Match(p, n.Path)
		}
		if !match {
			return fmt.Sprintf("grant %s covers %s only for paths %s", g.ID, n.Scope, strings.Join(g.Paths, ", "))
		}
	}
	return "ok"
}

// FindBounded is Find for an op of time at whose time witnesses put it no
// earlier than late (fold.Ctx.Late): grants must be live at late. An op
// whose grant was live at at but not at late is rejected as
// witnessed-late rather than unauthorized.
func FindBounded(st State, a *Actor, n Need, at, late time.Time) (*Grant, error) {
	g, err := Find(st, a, n, late)
	if err == nil || !late.After(at) {
		return g, err
	}
	rej, ok := oplog.AsRejection(err)
	if !ok {
		return nil, err
	}
	if _, err := Find(st, a, n, at); err != nil {
		return nil, rej
	}
	return nil, oplog.Reject(oplog.KindWitnessedLate, "%s; the op is dated %s, but a time witness signed at %s does not cover it",
		rej.Reason, at.Format(time.RFC3339), late.Format(time.RFC3339))
}

// Find returns the grant that lets a principal do what n needs at t (roots
// need none), or a Rejection naming the missing scope and why each
// candidate grant failed.
func Find(st State, a *Actor, n Need, t time.Time) (*Grant, error) {
	if a.Root {
		return nil, nil
	}
	p, err := st.Principal(a.Name)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, oplog.Reject(oplog.KindUnauthorized, "%s lacks %s: unknown identity", a.Name, n.Scope)
	}
	ids := append([]string(nil), p.Grants...)
	sort.Strings(ids)
	var why []string
	for _, id := range ids {
		g, err := st.Grant(id)
		if err != nil {
			return nil, err
		}
		if g == nil {
			continue
		}
		c := covers(g, n)
		if c == "" {
			continue
		}
		if c != "ok" {
			why = append(why, c)
			continue
		}
		reason, err := valid(st, g, t, true)
		if err != nil {
			return nil, err
		}
		if reason == "" && n.Seq > 0 {
			reason = grantCut(a, g, n.Seq)
		}
		if reason != "" {
			why = append(why, reason)
			continue
		}
		return g, nil
	}
	if len(why) == 0 {
		return nil, oplog.Reject(oplog.KindUnauthorized, "%s lacks %s: no grant", a.Name, n.Scope)
	}
	return nil, oplog.Reject(oplog.KindUnauthorized, "%s lacks %s: %s", a.Name, n.Scope, strings.Join(why, "; "))
}

// Use counts one use of a grant, and of every grant up its delegation
// chain, so delegating never multiplies a budget.
func Use(st State, g *Grant) error {
	for depth := 0; g != nil && depth < 32; depth++ {
		g.Uses++
		if err := st.PutGrant(g); err != nil {
			return err
		}
		if g.Parent == "" {
			return nil
		}
		parent, err := st.Grant(g.Parent)
		if err != nil {
			return err
		}
		g = parent
	}
	return nil
}

func subset(child, parent []string) bool {
	for _, c := range child {
		found := false
		for _, p := range parent {
			found = found || c == p
		}
		if !found {
			return false
		}
	}
	return true
}

// retiredBy reports whether retired key a was out by the op at seq in its
// own feed (0: no position) dated t. With a position and a cut-off (a
// version 2 rotation or revocation) it is decided by position alone: ops
// at or before the cut were accepted, later ones cut off, whatever time
// they claim. Times have whole-second resolution, so an op in the same
// second as the rotation that retired its key is not thereby after it.
// Without either, it is decided by time: at or after RetiredAt is out.
func retiredBy(a *Actor, seq uint64, t time.Time) bool {
	if seq > 0 && a.Cut != nil {
		return seq > a.Cut.Seq
	}
	return a.RetiredAt == nil || !t.Before(*a.RetiredAt)
}

// MayAt says why a key could not use what n needs at t, or "" if it could:
// the key was a trust root or registered, not yet retired at t, and held a
// grant covering n at t. It is the one authority check for evidence judged
// outside the fold (provenance records, checked when recorded and when
// verified).
func MayAt(st State, keyID string, n Need, t time.Time) (string, error) {
	a, err := st.Actor(keyID)
	if err != nil {
		return "", err
	}
	switch {
	case !a.Known():
		return "key is neither a trust root nor registered", nil
	case a.Retired != "" && retiredBy(a, n.Seq, t):
		return "key was " + a.Retired + " before then", nil
	}
	if _, err := Find(st, a, n, t); err != nil {
		if rej, ok := oplog.AsRejection(err); ok {
			return rej.Reason, nil
		}
		return "", err
	}
	return "", nil
}
