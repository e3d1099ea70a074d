package mcpserver_test

import (
	"context"
	"strings"
	"testing"

	"github.com/git-covenant/git-covenant/mcpserver"
	"github.com/git-covenant/git-covenant/trust"
)

// Memory, mailbox and budget tools: each write is checked against the
// caller's grants before anything is written, the refusal naming the
// scope; the reads act as the caller. (Without authorize's check the fold
// refuses after a write was tried, as an unauthorized rejection naming no
// scope, and this fails.)
func TestMemoryMailboxBudgetTools(t *testing.T) {
	f := newFixture(t)
	f.agentIdentity("bot", trust.ScopeMemoryWorking, trust.ScopeA2ASendTo("carol"))
	f.agentIdentity("carol", trust.ScopeA2AReceive, trust.ScopeA2ARespond)
	f.agentIdentity("dave")
	task := f.create("parser")
	bot := f.connect(mcpserver.Options{Identity: "bot"})
	carol := f.connect(mcpserver.Options{Identity: "carol"})
	// Memory: bot may write working memory, not long-term.
	var m struct {
		ID   string `json:"id"`
		Tier string `json:"tier"`
		By   struct{ Name string }
	}
	ok(t, bot, "covenant_write", map[string]any{"action": "memory_add", "tier": "working", "text": "the lexer keeps tabs", "task": task.ID, "tags": []string{"lexer"}}, &m)
	if m.Tier != "working" || m.By.Name != "bot" {
		t.Fatalf("memory_add: %+v", m)
	}
	before := f.refs()
	for _, c := range []struct {
		cs    string
		args  map[string]any
		scope string
	}{
		{"bot", map[string]any{"action": "memory_add", "tier": "longterm", "text": "always tabs"}, trust.ScopeMemoryLongterm},
		{"bot", map[string]any{"action": "send", "to": "dave", "msg_kind": "review", "body": "please"}, trust.ScopeA2ASendTo("dave")},
		{"bot", map[string]any{"action": "recv"}, trust.ScopeA2AReceive},
		{"carol", map[string]any{"action": "memory_add", "tier": "working", "text": "x"}, trust.ScopeMemoryWorking},
		{"carol", map[string]any{"action": "send", "to": "bot", "msg_kind": "review", "body": "please"}, trust.ScopeA2ASendTo("bot")},
	} {
		cs := bot
		if c.cs == "carol" {
			cs = carol
		}
		r := call(t, cs, "covenant_write", c.args)
		if !r.IsError || r.Err.Kind != "scope" || r.Err.Scope != c.scope || !strings.Contains(r.Text, c.scope) {
			t.Errorf("%s %v: want a refusal naming %s, got %+v", c.cs, c.args["action"], c.scope, r)
		}
	}
	if after := f.refs(); after != before {
		t.Errorf("a refused call wrote:\nbefore %s\nafter  %s", before, after)
	}
	var hits []struct {
		Memory struct{ ID string }
	}
	ok(t, carol, "covenant_read", map[string]any{"action": "memory_search", "query": "lexer tabs"}, &hits)
	if len(hits) != 1 || hits[0].Memory.ID != m.ID {
		t.Fatalf("memory_search: %+v", hits)
	}
	var list []struct{ ID string }
	ok(t, carol, "covenant_read", map[string]any{"action": "memories", "task": task.ID}, &list)
	if len(list) != 1 || list[0].ID != m.ID {
		t.Fatalf("memories: %+v", list)
	}
	ok(t, carol, "covenant_read", map[string]any{"action": "memory", "id": m.ID}, nil)

	// Mailbox: bot sends to carol; carol claims and answers it; only bot,
	// its sender, may accept the result.
	var msg struct {
		ID     string
		Status struct{ State string }
	}
	ok(t, bot, "covenant_write", map[string]any{"action": "send", "to": "carol", "msg_kind": "review", "body": "look at the lexer", "task": task.ID}, &msg)
	var inbox []struct{ ID string }
	ok(t, carol, "covenant_read", map[string]any{"action": "inbox"}, &inbox)
	if len(inbox) != 1 || inbox[0].ID != msg.ID {
		t.Fatalf("carol's inbox: %+v", inbox)
	}
	ok(t, bot, "covenant_read", map[string]any{"action": "inbox"}, &inbox)
	if len(inbox) != 0 {
		t.Fatalf("bot's inbox: %+v", inbox)
	}
	ok(t, carol, "covenant_write", map[string]any{"action": "recv", "ttl": "5m"}, &msg)
	if msg.Status.State != "in_flight" {
		t.Fatalf("recv: %+v", msg)
	}
	r := call(t, bot, "covenant_write", map[string]any{"action": "respond", "id": msg.ID, "result": "mine"})
	if !r.IsError || r.Err.Scope != trust.ScopeA2ARespond {
		t.Fatalf("bot responds without a2a.respond: %+v", r)
	}
	ok(t, carol, "covenant_write", map[string]any{"action": "respond", "id": msg.ID, "result": "looks fine"}, &msg)
	before = f.refs()
	if r := call(t, carol, "covenant_write", map[string]any{"action": "ack", "id": msg.ID}); !r.IsError || r.Err.Scope != "sender:bot" {
		t.Fatalf("carol acks bot's message: %+v", r)
	}
	if f.refs() != before {
		t.Fatal("a refused ack wrote")
	}
	ok(t, bot, "covenant_write", map[string]any{"action": "ack", "id": msg.ID}, &msg)
	if msg.Status.State != "resolved" {
		t.Fatalf("ack: %+v", msg)
	}
	var all []struct{ ID string }
	ok(t, bot, "covenant_read", map[string]any{"action": "message"}, &all)
	if len(all) != 1 || all[0].ID != msg.ID {
		t.Fatalf("message (status): %+v", all)
	}

	// Budget: status reads; a report outside a daemon run is refused.
	ok(t, bot, "covenant_read", map[string]any{"action": "budget"}, nil)
	if r := call(t, bot, "covenant_write", map[string]any{"action": "budget_report", "credits": 5}); !r.IsError || r.Err.Kind != "not-in-run" {
		t.Fatalf("budget_report outside a run: %+v", r)
	}
}

// The front end's scopes (the gateway's token) are asked with each scope
// a write may use: a token carrying memory.working lets a working memory
// through and refuses a long-term one, naming memory.longterm first.
func TestAuthorizeHookAlternatives(t *testing.T) {
	f := newFixture(t)
	var asked []string
	cs := f.connect(mcpserver.Options{Authorize: func(_ context.Context, scope string) error {
		asked = append(asked, scope)
		if scope == trust.ScopeMemoryWorking {
			return nil
		}
		return mcpserver.ErrScope
	}})
	ok(t, cs, "covenant_write", map[string]any{"action": "memory_add", "tier": "working", "text": "note"}, nil)
	before := f.refs()
	r := call(t, cs, "covenant_write", map[string]any{"action": "memory_add", "tier": "longterm", "text": "rule"})
	if !r.IsError || r.Err.Scope != trust.ScopeMemoryLongterm {
		t.Fatalf("long-term memory with a token lacking it: %+v", r)
	}
	if f.refs() != before {
		t.Fatal("a refused memory_add wrote")
	}
	if got := strings.Join(asked, " "); got != "memory.working memory.longterm memory.write" {
		t.Errorf("asked %s", got)
	}
}
