package mcpserver

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/memory"
	"github.com/git-covenant/git-covenant/trust"
)

// Memory, mailbox and budget: reads act as the caller (a run's identity
// inside a run); writes are checked by authorize with the scopes need
// names, then signed as the caller.

// reader is the Service acting as the caller, for reads that depend on
// who asks (the inbox).
func (c *call) reader(ctx context.Context) (*covenant.Service, error) {
	if c.s.opts.Run == nil {
		return c.s.svc, nil
	}
	b, err := c.s.opts.Run.Binding(ctx)
	if err != nil {
		return nil, err
	}
	return c.s.base.As(b.Identity), nil
}

func runMemories(ctx context.Context, c *call) (any, error) {
	a := c.args
	ms, err := c.s.base.Memories(ctx, covenant.MemoryFilter{Tier: a.Tier, Task: a.Task, Tag: a.Tag, All: a.All})
	if err != nil {
		return nil, err
	}
	if n := limit(a); len(ms) > n {
		ms = ms[:n]
	}
	return ms, nil
}

func runMemorySearch(ctx context.Context, c *call) (any, error) {
	return c.s.base.SearchMemories(ctx, c.args.Query, limit(c.args), c.args.All)
}

func runMemory(ctx context.Context, c *call) (any, error) {
	return c.s.base.Memory(ctx, c.args.ID)
}

func runInbox(ctx context.Context, c *call) (any, error) {
	svc, err := c.reader(ctx)
	if err != nil {
		return nil, err
	}
	vs, err := svc.Inbox(ctx)
	if err != nil {
		return nil, err
	}
	if n := limit(c.args); len(vs) > n {
		vs = vs[:n]
	}
	return vs, nil
}

// runMessage is a2a status: one message, or every message to or from
// the caller, oldest first.
func runMessage(ctx context.Context, c *call) (any, error) {
	if c.args.ID != "" {
		return c.s.base.Message(ctx, c.args.ID)
	}
	svc, err := c.reader(ctx)
	if err != nil {
		return nil, err
	}
	me, err := svc.Actor("")
	if err != nil {
		return nil, err
	}
	to, err := svc.Messages(ctx, covenant.MessageFilter{To: me.Name})
	if err != nil {
		return nil, err
	}
	from, err := svc.Messages(ctx, covenant.MessageFilter{From: me.Name})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := []*covenant.MessageView{}
	for _, v := range append(to, from...) {
		if !seen[v.ID] {
			seen[v.ID] = true
			out = append(out, v)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].SentAt.Before(out[j].SentAt) })
	return out, nil
}

func runBudget(ctx context.Context, c *call) (any, error) {
	return c.s.base.BudgetStatus(ctx, time.Now())
}

// needMemory: the tier's scope, or memory.write for every tier, on the
// task the memory is about (its labels).
func needMemory(_ context.Context, c *call) ([]string, error) {
	return []string{memory.Scope(c.args.Tier), trust.ScopeMemory}, nil
}

func runMemoryAdd(ctx context.Context, c *call) (any, error) {
	a := c.args
	req := covenant.MemoryAddRequest{Tier: a.Tier, Text: a.Text, Task: c.task, Tags: a.Tags}
	for _, p := range a.Files {
		file, rev := p, ""
		if i := strings.LastIndexByte(p, '@'); i > 0 {
			file, rev = p[:i], p[i+1:]
		}
		if file = path.Clean(file); file == "." || strings.HasPrefix(file, "../") || path.IsAbs(file) {
			return nil, badArgs("pin %q: name a file from the top of the work tree", p)
		}
		req.Pins = append(req.Pins, covenant.PinSpec{Path: file, Rev: rev})
	}
	return c.s.svc.AddMemory(ctx, req)
}

// needSend: a2a.send.<recipient>, or a2a.send for any recipient.
func needSend(_ context.Context, c *call) ([]string, error) {
	return []string{trust.ScopeA2ASendTo(c.args.To), trust.ScopeA2A}, nil
}

func runSend(ctx context.Context, c *call) (any, error) {
	a := c.args
	return c.s.svc.SendMessage(ctx, covenant.SendRequest{To: a.To, Kind: a.MsgKind, Body: a.Body, Task: c.task,
		Deadline: a.deadline, IdempotencyKey: a.IdempotencyKey})
}

func runRecv(ctx context.Context, c *call) (any, error) {
	return c.s.svc.RecvMessage(ctx, c.args.ttl)
}

// needRespond: a2a.respond on the message's task.
func needRespond(ctx context.Context, c *call) ([]string, error) {
	m, err := c.s.base.Message(ctx, c.args.ID)
	if err != nil {
		return nil, err
	}
	c.task = m.Task
	return []string{trust.ScopeA2ARespond}, nil
}

func runRespond(ctx context.Context, c *call) (any, error) {
	return c.s.svc.RespondMessage(ctx, c.args.ID, c.args.Result)
}

// needAck: only the sender accepts a result (no grant gives it).
func needAck(ctx context.Context, c *call) ([]string, error) {
	m, err := c.s.base.Message(ctx, c.args.ID)
	if err != nil {
		return nil, err
	}
	if m.From.Name != c.who {
		return nil, refuse("sender:"+m.From.Name, "%s may not ack %s: only its sender %s accepts its result", c.who, m.ID, m.From.Name)
	}
	return nil, nil
}

func runAck(ctx context.Context, c *call) (any, error) {
	return c.s.svc.AckMessage(ctx, c.args.ID)
}

// needRun: usage is a run's, reported to the daemon that debits it.
func needRun(_ context.Context, c *call) ([]string, error) {
	if c.bind == nil {
		return nil, fmt.Errorf("%w: budget_report counts a daemon run's usage; a server started with the run token (git covenant mcp --run-token-file) takes it", ErrNotInRun)
	}
	return nil, nil
}

func runBudgetReport(ctx context.Context, c *call) (any, error) {
	a := c.args
	u := &Usage{InputTokens: a.InputTokens, OutputTokens: a.OutputTokens, Credits: a.Credits}
	if _, err := c.s.opts.Run.Do(ctx, RunRequest{Op: "usage", Task: c.task, Usage: u}); err != nil {
		return nil, err
	}
	return struct {
		Run      string `json:"run"`
		Reported *Usage `json:"reported"`
		Note     string `json:"note"`
	}{c.bind.Run, u, "added to the run's record when the run ends; budgets and receipts count it"}, nil
}
