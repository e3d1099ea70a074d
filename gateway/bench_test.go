package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/gateway"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// bearerRT adds a token to every request.
type bearerRT struct{ secret string }

func (b bearerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.secret)
	return http.DefaultTransport.RoundTrip(r)
}

// TestGatewayReport measures, in one run (GATEWAY_BENCH=<samples>; make
// bench runs it): a read (task show) and a write (task comment) through the
// gateway next to the same command through the CLI and as MCP tool calls
// over the gateway's streamable HTTP, and the delay from an
// op written by another handle to its event on the stream. It prints
// Markdown rows (docs/perf.md). No assertion: figures only.
func TestGatewayReport(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("GATEWAY_BENCH"))
	if n <= 0 {
		t.Skip("GATEWAY_BENCH=<samples> runs the gateway report (make bench)")
	}
	f := newFixture(t)
	secret := f.token("", "bench", "task.create", "task.comment")
	var mcpMount gateway.Mount // made once start has opened the Service
	lazy := gateway.MCP(nil, "bench")
	lazy.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { mcpMount.Handler.ServeHTTP(w, r) })
	f.start(gateway.Options{Poll: time.Hour, Mounts: []gateway.Mount{lazy}}) // events come from the watcher
	mcpMount = gateway.MCP(f.svc, "bench")
	id := strings.TrimSpace(f.cli("task", "create", "bench"))
	hc := &http.Client{Timeout: time.Minute}
	call := func(method, path, body string) time.Duration {
		req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 32<<10)
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
		d := time.Since(t0)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
		}
		return d
	}
	cli := func(args ...string) time.Duration {
		cmd := exec.Command(binPath, args...)
		cmd.Dir, cmd.Env = f.dir, f.env()
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return time.Since(t0)
	}
	// One MCP session over the gateway's streamable HTTP (the Go SDK's
	// client), as an agent configured with the gateway's URL keeps.
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(context.Background(),
		&mcp.StreamableClientTransport{Endpoint: f.url + "/mcp", HTTPClient: &http.Client{Transport: bearerRT{secret}}, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	tool := func(name string, args map[string]any) time.Duration {
		t0 := time.Now()
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil || res.IsError {
			t.Fatalf("%s %v: %v %+v", name, args, err, res)
		}
		return time.Since(t0)
	}
	var hr, cr, hw, cw, mr, mw []time.Duration
	for i := 0; i < n; i++ { // interleaved, so load on the machine hits all alike
		hr = append(hr, call("GET", "/v1/tasks/"+id, ""))
		cr = append(cr, cli("task", "show", id, "--json"))
		mr = append(mr, tool("covenant_read", map[string]any{"action": "show", "task": id}))
		hw = append(hw, call("POST", "/v1/tasks/"+id+"/comment", fmt.Sprintf(`{"text":"http %d"}`, i)))
		cw = append(cw, cli("task", "comment", id, fmt.Sprintf("cli %d", i)))
		mw = append(mw, tool("covenant_write", map[string]any{"action": "comment", "task": id, "text": fmt.Sprintf("mcp %d", i)}))
	}

	// Stream latency: another handle on the clone writes; the stream
	// client notes when each op's event arrives.
	other, err := covenant.Open(context.Background(), covenant.Options{Dir: f.dir, Getenv: f.getenv, Env: f.env()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequest("GET", f.url+"/v1/events?types=op", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	arrived := make(chan time.Time, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				arrived <- time.Now()
			}
		}
	}()
	// The ref update's time is the feed ref file's mtime: its lock file
	// was written just before the rename that moved the ref.
	refs, _ := other.RefsDirs()
	refTime := func() time.Time {
		var last time.Time
		filepath.WalkDir(refs, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() && !strings.HasSuffix(p, ".lock") {
				if fi, err := e.Info(); err == nil && fi.ModTime().After(last) {
					last = fi.ModTime()
				}
			}
			return nil
		})
		return last
	}
	var fromRef, fromStart []time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := other.Comment(context.Background(), id, fmt.Sprintf("stream %d", i)); err != nil {
			t.Fatal(err)
		}
		moved := refTime()
		select {
		case at := <-arrived:
			fromRef, fromStart = append(fromRef, at.Sub(moved)), append(fromStart, at.Sub(t0))
		case <-time.After(time.Minute):
			t.Fatal("no event within a minute")
		}
	}
	rows := []string{
		fmt.Sprintf("| read (task show): gateway | %s | %s |", ms(pct(hr, 50)), ms(pct(hr, 99))),
		fmt.Sprintf("| read (task show): CLI process | %s | %s |", ms(pct(cr, 50)), ms(pct(cr, 99))),
		fmt.Sprintf("| write (task comment): gateway | %s | %s |", ms(pct(hw, 50)), ms(pct(hw, 99))),
		fmt.Sprintf("| write (task comment): CLI process | %s | %s |", ms(pct(cw, 50)), ms(pct(cw, 99))),
		fmt.Sprintf("| MCP over streamable HTTP: covenant_read show | %s | %s |", ms(pct(mr, 50)), ms(pct(mr, 99))),
		fmt.Sprintf("| MCP over streamable HTTP: covenant_write comment | %s | %s |", ms(pct(mw, 50)), ms(pct(mw, 99))),
		fmt.Sprintf("| stream: ref updated → event received | %s | %s |", ms(pct(fromRef, 50)), ms(pct(fromRef, 99))),
		fmt.Sprintf("| stream: write started → event received | %s | %s |", ms(pct(fromStart, 50)), ms(pct(fromStart, 99))),
	}
	for _, r := range rows {
		t.Log(r)
		if testing.Verbose() {
			fmt.Println(r)
		}
	}
}
