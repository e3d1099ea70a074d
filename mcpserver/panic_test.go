package mcpserver

import (
	"context"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A panic in a handler is a tool error; the server goes on serving.
func TestPanicIsToolError(t *testing.T) {
	ctx := context.Background()
	s := &server{}
	boom := &op{name: "boom", class: classRead, params: []string{"task"}, desc: "panics",
		run: func(context.Context, *call) (any, error) { panic("nil map somewhere") }}
	fine := &op{name: "fine", class: classRead, desc: "answers",
		run: func(context.Context, *call) (any, error) { return map[string]bool{"fine": true}, nil }}
	m := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	for _, o := range []*op{boom, fine} {
		td := flatTool(o)
		m.AddTool(td.tool, s.handler(td))
	}
	st, ct := mcp.NewInMemoryTransports()
	ss, err := m.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	for range 2 {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "boom", Arguments: map[string]any{"task": "x"}})
		if err != nil {
			t.Fatalf("a panic became a protocol error or killed the session: %v", err)
		}
		text := res.Content[0].(*mcp.TextContent).Text
		if !res.IsError || !strings.Contains(text, "boom panicked") {
			t.Fatalf("panic result: %+v %s", res, text)
		}
		if strings.Contains(text, "goroutine") {
			t.Fatalf("the stack reached the caller: %s", text)
		}
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "fine"})
	if err != nil || res.IsError {
		t.Fatalf("after the panics: %v %+v", err, res)
	}
}
