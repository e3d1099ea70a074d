package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/glob"
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
	ScopeMemory        = "memory.write"
	ScopeA2A           = "a2a.send"
)

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
	{ScopeMemory, "write shared memory"},
	{ScopeA2A, "send agent-to-agent messages"},
}

var reviewRE = regexp.MustCompile(`^review\.[a-z0-9][a-z0-9._-]*$`)

// CheckScope validates a scope name against the list.
func CheckScope(s string) error {
	if reviewRE.MatchString(s) {
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

// GrantBody is the body of cap.grant.
type GrantBody struct {
	To        string   `json:"to"`
	Scopes    []string `json:"scopes"`
	Labels    []string `json:"labels,omitempty"`
	Paths     []string `json:"paths,omitempty"`
	ExpiresAt string   `json:"expires_at,omitempty"` // RFC 3339
	MaxUses   int      `json:"max_uses,omitempty"`
	Delegable bool     `json:"delegable,omitempty"`
	Parent    string   `json:"parent,omitempty"`
}

// RevokeBody is the body of cap.revoke.
type RevokeBody struct {
	Grant  string `json:"grant"`
	Reason string `json:"reason"`
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
}

// valid reports why a grant cannot be used at t, or "".
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
		g, countUses = parent, false
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

// Use counts one use of a grant.
func Use(st State, g *Grant) error {
	if g == nil {
		return nil
	}
	g.Uses++
	return st.PutGrant(g)
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

func applyGrant(st State, actor *Actor, e *oplog.Entry) error {
	op := e.Op
	var b GrantBody
	if err := decodeBody(op, &b); err != nil {
		return err
	}
	if len(b.Scopes) == 0 {
		return oplog.Reject(oplog.KindInvalidBody, "a grant needs at least one scope")
	}
	for _, s := range b.Scopes {
		if err := CheckScope(s); err != nil {
			return oplog.Reject(oplog.KindInvalidBody, "%v", err)
		}
	}
	if b.MaxUses < 0 {
		return oplog.Reject(oplog.KindInvalidBody, "max_uses must not be negative")
	}
	var exp *time.Time
	if b.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, b.ExpiresAt)
		if err != nil {
			return oplog.Reject(oplog.KindInvalidBody, "expires_at %q is not an RFC 3339 time", b.ExpiresAt)
		}
		t = t.UTC()
		exp = &t
	}
	to, err := st.Principal(b.To)
	if err != nil {
		return err
	}
	if to == nil || to.Revoked != nil {
		return oplog.Reject(oplog.KindNotFound, "no live identity %s to grant to", b.To)
	}
	if !actor.Root {
		if b.Parent == "" {
			return oplog.Reject(oplog.KindUnauthorized, "%s is not a trust root; only a delegable grant lets it grant", actor.Name)
		}
		parent, err := st.Grant(b.Parent)
		if err != nil {
			return err
		}
		switch {
		case parent == nil:
			return oplog.Reject(oplog.KindUnauthorized, "delegation from unknown grant %s", b.Parent)
		case parent.To != actor.Name:
			return oplog.Reject(oplog.KindUnauthorized, "delegation from grant %s, which was given to %s, not %s", parent.ID, parent.To, actor.Name)
		case !parent.Delegable:
			return oplog.Reject(oplog.KindUnauthorized, "grant %s is not delegable", parent.ID)
		case !subset(b.Scopes, parent.Scopes):
			return oplog.Reject(oplog.KindUnauthorized, "delegated scopes %s exceed grant %s (%s)", strings.Join(b.Scopes, ", "), parent.ID, strings.Join(parent.Scopes, ", "))
		case len(parent.Labels) > 0 && (len(b.Labels) == 0 || !subset(b.Labels, parent.Labels)):
			return oplog.Reject(oplog.KindUnauthorized, "delegated labels must be within %s of grant %s", strings.Join(parent.Labels, ", "), parent.ID)
		case len(parent.Paths) > 0 && (len(b.Paths) == 0 || !subset(b.Paths, parent.Paths)):
			return oplog.Reject(oplog.KindUnauthorized, "delegated paths must be within %s of grant %s", strings.Join(parent.Paths, ", "), parent.ID)
		case parent.ExpiresAt != nil && (exp == nil || exp.After(*parent.ExpiresAt)):
			return oplog.Reject(oplog.KindUnauthorized, "a delegated grant must expire by %s, when grant %s does", parent.ExpiresAt.Format(time.RFC3339), parent.ID)
		case parent.MaxUses > 0 && (b.MaxUses == 0 || b.MaxUses > parent.MaxUses):
			return oplog.Reject(oplog.KindUnauthorized, "a delegated grant may be used at most %d times, as grant %s", parent.MaxUses, parent.ID)
		}
		if reason, err := valid(st, parent, op.When(), false); err != nil {
			return err
		} else if reason != "" {
			return oplog.Reject(oplog.KindUnauthorized, "cannot delegate: %s", reason)
		}
	} else if b.Parent != "" {
		return oplog.Reject(oplog.KindInvalidBody, "a trust root grants directly, without a parent")
	}
	labels, paths := b.Labels, b.Paths
	if labels == nil {
		labels = []string{}
	}
	if paths == nil {
		paths = []string{}
	}
	g := &Grant{ID: GrantID(op.Actor, op.Seq), To: b.To, Scopes: b.Scopes, Labels: labels, Paths: paths, ExpiresAt: exp,
		MaxUses: b.MaxUses, Delegable: b.Delegable, Parent: b.Parent, By: actor.Name, ByKey: actor.KeyID, At: op.When(), Op: e.Commit}
	if old, err := st.Grant(g.ID); err != nil {
		return err
	} else if old != nil {
		return oplog.Reject(oplog.KindDuplicate, "grant %s exists", g.ID)
	}
	to.Grants = append(to.Grants, g.ID)
	if err := st.PutPrincipal(to); err != nil {
		return err
	}
	return st.PutGrant(g)
}

func applyRevoke(st State, actor *Actor, e *oplog.Entry) error {
	var b RevokeBody
	if err := decodeBody(e.Op, &b); err != nil {
		return err
	}
	g, err := st.Grant(b.Grant)
	if err != nil {
		return err
	}
	if g == nil {
		return oplog.Reject(oplog.KindNotFound, "no grant %s", b.Grant)
	}
	if g.Revoked != nil {
		return oplog.Reject(oplog.KindDuplicate, "grant %s is already revoked", g.ID)
	}
	if strings.TrimSpace(b.Reason) == "" {
		return oplog.Reject(oplog.KindInvalidBody, "a revocation needs a reason")
	}
	allowed := actor.Root || g.By == actor.Name
	for p := g; !allowed && p != nil && p.Parent != ""; {
		if p, err = st.Grant(p.Parent); err != nil {
			return err
		}
		allowed = p != nil && p.To == actor.Name
	}
	if !allowed {
		if _, err := Find(st, actor, Need{Scope: ScopeIdentityAdmin}, e.Op.When()); err != nil {
			return oplog.Reject(oplog.KindUnauthorized, "only the granter, a holder up its delegation chain, a trust root or an identity admin may revoke grant %s", g.ID)
		}
	}
	g.Revoked = &Revocation{Op: e.Commit, By: actor.Name, At: e.Op.When(), Reason: b.Reason}
	return st.PutGrant(g)
}
