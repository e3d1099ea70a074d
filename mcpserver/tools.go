package mcpserver

import (
	"context"
	"strings"

	"github.com/git-covenant/git-covenant/memory"
	"github.com/git-covenant/git-covenant/tasks"
	"github.com/git-covenant/git-covenant/trust"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// class is what an operation does to the repository; a tool groups
// operations of one class, so its annotations hold for every action.
type class int

const (
	classRead  class = iota // reads state, writes nothing
	classWrite              // appends a signed op; nothing is removed or rewritten
	classExec               // runs a command, then appends its evidence
)

// op is one operation: a flat tool, or an action of a grouped one.
type op struct {
	name   string
	class  class
	desc   string   // one line; the flat tool's description, the action's in a group
	scope  string   // the capability it needs; "" for reads
	params []string // the arguments it takes (see params); a trailing * marks a required one
	run    func(ctx context.Context, c *call) (any, error)
	// need, when set, names the scopes a write may use instead of scope
	// (any one suffices; the refusal names the first) and may set the
	// task they are checked on (c.task); it runs after the caller is
	// known, before anything is written. An error refuses the call.
	need func(ctx context.Context, c *call) ([]string, error)
}

// param is one argument's schema and description.
type param struct {
	schema map[string]any
	desc   string
}

var params = map[string]param{
	"task":            {str(), "task id or unique prefix (4+ chars)"},
	"label":           {str(), "only tasks with this label"},
	"ttl":             {str(), "lease length, a Go duration (30m, 2h; default 2h)"},
	"ready":           {intRange(1, 100), "ready tasks to list (default 5)"},
	"limit":           {intRange(1, maxLimit), "rows to return (default 20; log: the latest)"},
	"full":            {boolean(), "re-check every feed from its root"},
	"summary":         {str(), "what was done and where things stand"},
	"next":            {strs(), "next steps"},
	"questions":       {strs(), "open questions"},
	"files":           {strs(), "paths (from the top of the work tree) to pin as path@blob"},
	"validation":      {enum(tasks.ValidationStatuses...), "validation status (default not-run)"},
	"validation_note": {str(), "what was run and what it said"},
	"keep_lease":      {boolean(), "keep the lease after the handoff"},
	"to":              {str(), "move: workflow state (default done); send: recipient identity"},
	"note":            {str(), "why"},
	"text":            {str(), "comment or memory text"},
	"kind":            {enum(tasks.EscalationKinds...), "what is needed"},
	"reason":          {str(), "what you need and why"},
	"gate":            {str(), "check gate name"},
	"argv":            {strs(), "command and arguments, run without a shell in the work tree"},
	"timeout":         {str(), "stop the command after this long (Go duration); recorded as failed"},
	"id":              {str(), "memory or message id (or unique prefix)"},
	"tier":            {enum(memory.Tiers...), "memory tier"},
	"tags":            {strs(), "tags"},
	"tag":             {str(), "only memories with this tag"},
	"query":           {str(), "words that must all match"},
	"all":             {boolean(), "forgotten memories too"},
	"body":            {str(), "message body"},
	"msg_kind":        {str(), "message kind, e.g. review"},
	"deadline":        {str(), "answer by: RFC 3339 time or duration from now"},
	"idempotency_key": {str(), "a reused key returns the first message"},
	"result":          {str(), "the message's result"},
	"input_tokens":    {intRange(0, 1<<40), "model tokens in"},
	"output_tokens":   {intRange(0, 1<<40), "model tokens out"},
	"credits":         {intRange(0, 1<<50), "cost in millionths of a US dollar"},
}

// ops lists every operation, reads first.
var ops = []*op{
	{name: "prime", class: classRead, params: []string{"ready"}, run: runPrime,
		desc: "who you are, what you may do, your leases and the ready tasks you may claim; start here"},
	{name: "ready", class: classRead, params: []string{"label", "limit"}, run: runReady,
		desc: "the ready queue: unclaimed tasks with no open blocker, highest priority first"},
	{name: "show", class: classRead, params: []string{"task*"}, run: runShow,
		desc: "a task with its lease, latest handoff, gates and history"},
	{name: "resume", class: classRead, params: []string{"task*"}, run: runResume,
		desc: "a task's context pack: latest handoff, open questions, allowed moves, commit trailers"},
	{name: "log", class: classRead, params: []string{"task", "limit"}, run: runLog,
		desc: "ops in fold order, with why the fold ignored any"},
	{name: "verify", class: classRead, params: []string{"full"}, run: runVerify,
		desc: "audit summary: feeds, ops, findings"},
	{name: "memories", class: classRead, params: []string{"tier", "task", "tag", "all", "limit"}, run: runMemories,
		desc: "project memories, newest first"},
	{name: "memory_search", class: classRead, params: []string{"query*", "all", "limit"}, run: runMemorySearch,
		desc: "full-text memory search, best first"},
	{name: "memory", class: classRead, params: []string{"id*"}, run: runMemory,
		desc: "one memory with its pins and history"},
	{name: "inbox", class: classRead, params: []string{"limit"}, run: runInbox,
		desc: "open messages to you"},
	{name: "message", class: classRead, params: []string{"id"}, run: runMessage,
		desc: "a message's state, or every message to or from you"},
	{name: "budget", class: classRead, run: runBudget,
		desc: "budgets: spent and remaining per window"},

	{name: "claim", class: classWrite, scope: trust.ScopeTaskClaim, params: []string{"task", "label", "ttl"}, run: runClaim,
		desc: "claim a task (or the top ready one you may claim) under a lease; returns its context pack"},
	{name: "heartbeat", class: classWrite, scope: trust.ScopeTaskClaim, params: []string{"task*", "ttl"}, run: runHeartbeat,
		desc: "extend your lease"},
	{name: "handoff", class: classWrite, scope: trust.ScopeTaskHandoff, params: []string{"task*", "summary*", "next", "questions", "files", "validation", "validation_note", "keep_lease"}, run: runHandoff,
		desc: "record a handoff for the next session and release the lease"},
	{name: "move", class: classWrite, scope: trust.ScopeTaskMove, params: []string{"task*", "to", "note"}, run: runMove,
		desc: "move a task to another workflow state"},
	{name: "comment", class: classWrite, scope: trust.ScopeTaskComment, params: []string{"task*", "text*"}, run: runComment,
		desc: "comment on a task"},
	{name: "escalate", class: classWrite, scope: trust.ScopeTaskEscalate, params: []string{"task*", "kind*", "reason*"}, run: runEscalate,
		desc: "hand a decision to a human: the task waits in escalated"},
	{name: "memory_add", class: classWrite, scope: trust.ScopeMemory, params: []string{"tier*", "text*", "task", "files", "tags"}, run: runMemoryAdd, need: needMemory,
		desc: "remember something (files: path[@rev] pins)"},
	{name: "send", class: classWrite, scope: trust.ScopeA2A, params: []string{"to*", "msg_kind*", "body*", "task", "deadline", "idempotency_key"}, run: runSend, need: needSend,
		desc: "send a message to another identity"},
	{name: "recv", class: classWrite, scope: trust.ScopeA2AReceive, params: []string{"ttl"}, run: runRecv,
		desc: "claim your next message under a lease"},
	{name: "respond", class: classWrite, scope: trust.ScopeA2ARespond, params: []string{"id*", "result*"}, run: runRespond, need: needRespond,
		desc: "answer a message you hold"},
	{name: "ack", class: classWrite, params: []string{"id*"}, run: runAck, need: needAck,
		desc: "accept the result of a message you sent"},
	{name: "budget_report", class: classWrite, params: []string{"input_tokens", "output_tokens", "credits"}, run: runBudgetReport, need: needRun,
		desc: "report your run's model usage (daemon runs only)"},

	{name: "check", class: classExec, scope: trust.ScopeTaskCheck, params: []string{"task*", "gate*", "argv*", "timeout"}, run: runCheck,
		desc: "run a command and record its exit status, duration and output digest as a check gate's evidence"},
}

// groups name the grouped tools, one per class.
var groups = []struct {
	class       class
	name, title string
	desc        string
}{
	{classRead, "covenant_read", "Read tasks and audit state", "Read git-covenant state (writes nothing)."},
	{classWrite, "covenant_write", "Claim, hand off and update tasks", "Write a signed op as you (checked against your capabilities first)."},
	{classExec, "covenant_check", "Run a check gate's command", "Run a command and record its exit status, duration and output digest as a check gate's evidence."},
}

// annotations are the hints of each class: reads touch nothing; writes
// only append signed ops (nothing is deleted or rewritten) and are not
// idempotent (each call appends one); a check runs an arbitrary command.
func annotations(c class, title string) *mcp.ToolAnnotations {
	f, t := false, true
	switch c {
	case classRead:
		return &mcp.ToolAnnotations{Title: title, ReadOnlyHint: true, IdempotentHint: true, DestructiveHint: &f, OpenWorldHint: &f}
	case classWrite:
		return &mcp.ToolAnnotations{Title: title, DestructiveHint: &f, OpenWorldHint: &f}
	default:
		return &mcp.ToolAnnotations{Title: title, DestructiveHint: &t, OpenWorldHint: &t}
	}
}

// toolDef is a registered tool and the operations it dispatches to.
type toolDef struct {
	tool    *mcp.Tool
	grouped bool
	ops     []*op
}

// tools builds the tools the options allow.
func (s *server) tools() []*toolDef {
	var out []*toolDef
	allowed := func(o *op) bool {
		switch o.class {
		case classWrite:
			return !s.opts.ReadOnly
		case classExec:
			return !s.opts.ReadOnly && s.opts.Exec
		}
		return true
	}
	if s.opts.Flat {
		for _, o := range ops {
			if allowed(o) {
				out = append(out, flatTool(o))
			}
		}
		return out
	}
	for _, g := range groups {
		var members []*op
		for _, o := range ops {
			if o.class == g.class && allowed(o) {
				members = append(members, o)
			}
		}
		switch {
		case len(members) == 0:
		case len(members) == 1:
			t := flatTool(members[0])
			t.tool.Name, t.tool.Description, t.tool.Annotations = g.name, g.desc, annotations(g.class, g.title)
			out = append(out, t)
		default:
			out = append(out, groupTool(g.name, g.title, g.desc, g.class, members))
		}
	}
	return out
}

func flatTool(o *op) *toolDef {
	props, req := map[string]any{}, []string{}
	for _, p := range o.params {
		name, required := strings.CutSuffix(p, "*")
		props[name] = withDesc(params[name], params[name].desc)
		if required {
			req = append(req, name)
		}
	}
	return &toolDef{ops: []*op{o}, tool: &mcp.Tool{Name: o.name, Description: o.desc, Annotations: annotations(o.class, ""),
		InputSchema: objectSchema(props, req)}}
}

// groupTool is one tool for several operations: an action parameter, the
// union of their arguments, and a description that says which action
// takes which (a trailing * marks a required argument).
func groupTool(name, title, desc string, c class, members []*op) *toolDef {
	var b strings.Builder
	b.WriteString(desc)
	b.WriteString(" Actions (args; * required):")
	var actions []string
	props := map[string]any{}
	for _, o := range members {
		actions = append(actions, o.name)
		b.WriteString("\n- ")
		b.WriteString(o.name)
		b.WriteString("(")
		b.WriteString(strings.Join(o.params, ","))
		b.WriteString("): ")
		b.WriteString(o.desc)
		for _, p := range o.params {
			n := strings.TrimSuffix(p, "*")
			props[n] = withDesc(params[n], params[n].desc)
		}
	}
	props["action"] = enum(actions...)
	return &toolDef{grouped: true, ops: members, tool: &mcp.Tool{Name: name, Description: b.String(), Annotations: annotations(c, title),
		InputSchema: objectSchema(props, []string{"action"})}}
}

func objectSchema(props map[string]any, required []string) map[string]any {
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func withDesc(p param, desc string) map[string]any {
	m := map[string]any{}
	for k, v := range p.schema {
		m[k] = v
	}
	if desc != "" {
		m["description"] = desc
	}
	return m
}

func str() map[string]any     { return map[string]any{"type": "string"} }
func boolean() map[string]any { return map[string]any{"type": "boolean"} }
func strs() map[string]any {
	return map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
}
func intRange(lo, hi int) map[string]any {
	return map[string]any{"type": "integer", "minimum": lo, "maximum": hi}
}
func enum(vs ...string) map[string]any {
	return map[string]any{"type": "string", "enum": append([]string(nil), vs...)}
}
