package mcpserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/mcpserver"
	"github.com/git-covenant/git-covenant/trust"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// toolsListBytes is the size of a tools/list result as it goes over the
// wire (its JSON), for a server with opts.
func toolsListBytes(t *testing.T, f *fixture, opts mcpserver.Options) int {
	t.Helper()
	res, err := f.connect(opts).ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// The whole tools/list the server offers (grouped) stays under 3,000
// tokens (bytes/4), writable or read-only, and grouping saves against one
// tool per operation (the flat list, kept only to measure the saving, is
// over the target since the memory, mailbox and budget tools came). The
// figures are logged for docs/perf.md.
func TestToolsListSize(t *testing.T) {
	f := newFixture(t)
	const budget = 3000 * 4
	for _, c := range []struct {
		name string
		opts mcpserver.Options
	}{
		{"grouped", mcpserver.Options{Exec: true}},
		{"flat", mcpserver.Options{Exec: true, Flat: true}},
		{"grouped --read-only", mcpserver.Options{ReadOnly: true}},
		{"flat --read-only", mcpserver.Options{ReadOnly: true, Flat: true}},
	} {
		n := toolsListBytes(t, f, c.opts)
		t.Logf("| tools/list, %s | %d | %d |", c.name, n, n/4)
		if !c.opts.Flat && n > budget {
			t.Errorf("tools/list %s: %d bytes (%d tokens), budget %d tokens", c.name, n, n/4, budget/4)
		}
	}
	if g, fl := toolsListBytes(t, f, mcpserver.Options{Exec: true}), toolsListBytes(t, f, mcpserver.Options{Exec: true, Flat: true}); g >= fl {
		t.Errorf("grouped tools/list (%d bytes) is no smaller than flat (%d)", g, fl)
	}
}

// TestMCPRoundTripReport measures, for make bench (docs/perf.md), a read
// (task show) and a write (task comment) as MCP tool calls over stdio to
// one `git-covenant mcp` process, against the same operation as a CLI
// process (`task show --json`, `task comment`) in the same run. It asserts
// nothing about time and runs only when MCP_BENCH_CALLS is set (calls of
// each kind).
func TestMCPRoundTripReport(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MCP_BENCH_CALLS"))
	if n <= 0 {
		t.Skip("set MCP_BENCH_CALLS=100 to measure")
	}
	bin := binary(t)
	f := newFixture(t)
	f.agentIdentity("bot", trust.ScopeTaskClaim, trust.ScopeTaskComment)
	task := f.create("bench")
	if _, err := f.svc.As("bot").StartTask(context.Background(), covenant.StartRequest{Task: task.ID}); err != nil {
		t.Fatal(err)
	}
	env := f.env()
	ctx := context.Background()
	cmd := exec.Command(bin, "mcp", "--identity", "bot")
	cmd.Dir, cmd.Env = f.dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cs.Close()
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	list, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := json.Marshal(list)

	timeCall := func(tool string, args map[string]any) time.Duration {
		t0 := time.Now()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
		d := time.Since(t0)
		if err != nil || res.IsError {
			t.Fatalf("%s: %v %+v", tool, err, res)
		}
		return d
	}
	timeCLI := func(args ...string) time.Duration {
		c := exec.Command(bin, args...)
		c.Dir, c.Env = f.dir, env
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		t0 := time.Now()
		out, err := c.CombinedOutput()
		d := time.Since(t0)
		if err != nil {
			t.Fatalf("git-covenant %v: %v\n%s", args, err, out)
		}
		return d
	}
	var mr, mw, cr, cw []time.Duration
	for i := range n {
		// Interleaved, so load on the machine falls on both alike.
		mr = append(mr, timeCall("covenant_read", map[string]any{"action": "show", "task": task.ID}))
		cr = append(cr, timeCLI("task", "show", task.ID, "--json"))
		mw = append(mw, timeCall("covenant_write", map[string]any{"action": "comment", "task": task.ID, "text": fmt.Sprintf("mcp %d", i)}))
		cw = append(cw, timeCLI("--as", "bot", "task", "comment", task.ID, fmt.Sprintf("cli %d", i)))
	}
	fmt.Printf("| tools/list over stdio (grouped) | %d bytes | %d tokens |\n", len(lb), len(lb)/4)
	for _, c := range []struct {
		name string
		opts mcpserver.Options
	}{{"flat (one tool per op)", mcpserver.Options{Exec: true, Flat: true}}, {"grouped --read-only", mcpserver.Options{ReadOnly: true}}} {
		b := toolsListBytes(t, f, c.opts)
		fmt.Printf("| tools/list, %s | %d bytes | %d tokens |\n", c.name, b, b/4)
	}
	for _, r := range []struct {
		name string
		d    []time.Duration
	}{
		{"mcp read: covenant_read show", mr}, {"cli read: task show --json", cr},
		{"mcp write: covenant_write comment", mw}, {"cli write: task comment", cw},
	} {
		p50, p99 := pct(r.d, 50), pct(r.d, 99)
		fmt.Printf("| %s | %.1f ms | %.1f ms |\n", r.name, ms(p50), ms(p99))
	}
	fmt.Printf("| ratio mcp/cli p50: read %.2f, write %.2f | | |\n", ms(pct(mr, 50))/ms(pct(cr, 50)), ms(pct(mw, 50))/ms(pct(cw, 50)))
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
