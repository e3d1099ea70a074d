package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/trust"
)

// The daemon serves the HTTP gateway on loopback: its URL is in its status
// and in daemon.http; a write with an operator token is signed by the
// operator; a run's output arrives on the event stream.
func TestHTTPGateway(t *testing.T) {
	f := newFixture(t)
	f.agentIdentity("echoer", trust.ScopeTaskClaim, trust.ScopeTaskHandoff, trust.ScopeTaskMove)
	dir := t.TempDir()
	agent := &daemon.Agent{Name: "echoer", Identity: "echoer", Labels: []string{"echo"}, Prompt: "none", Sandbox: "none",
		Env:  []string{"PATH", "HOME", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL"},
		Argv: []string{"sh", "-c", `while [ ! -e ` + dir + `/go ]; do sleep 0.02; done; echo hello-from-the-run`}}
	d := f.daemon(agent)
	stop := f.start(d)
	cov, _ := f.svc.CovenantDir()
	var url string
	waitFor(t, "daemon.http", func() bool {
		b, err := os.ReadFile(filepath.Join(cov, daemon.HTTPFile))
		url = strings.TrimSpace(string(b))
		return err == nil && url != ""
	})
	if !strings.HasPrefix(url, "http://127.0.0.1:") || d.Status().HTTP != url {
		t.Fatalf("url %q, status %q", url, d.Status().HTTP)
	}
	tok, err := f.svc.CreateToken(context.Background(), covenant.TokenRequest{Name: "op", Scopes: []string{"task.create"}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			b.WriteString(sc.Text())
		}
		return resp.StatusCode, b.String()
	}
	if code, body := get("GET", "/v1/daemon", ""); code != 200 || !strings.Contains(body, `"schema":"daemon-status/1"`) || !strings.Contains(body, url) {
		t.Errorf("/v1/daemon: %d %s", code, body)
	}
	// The run's output on the stream.
	req, _ := http.NewRequest("GET", url+"/v1/events?types=run-output", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Secret)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	<-lines // the stream's opening comment: subscribed
	code, body := get("POST", "/v1/tasks", `{"title":"echo it","labels":["echo"]}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	var task struct {
		ID      string
		History []struct{ Actor struct{ Name string } }
	}
	json.Unmarshal([]byte(body), &task)
	if len(task.History) == 0 || task.History[0].Actor.Name != "alice" {
		t.Errorf("the create is not the operator's: %s", body)
	}
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	deadline := time.After(3 * time.Minute)
	for found := false; !found; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the stream ended")
			}
			if strings.HasPrefix(l, "data: ") && strings.Contains(l, "hello-from-the-run") {
				var out struct{ Schema, Run, Task, Text string }
				json.Unmarshal([]byte(strings.TrimPrefix(l, "data: ")), &out)
				if out.Schema != "run-output/1" || out.Task != task.ID || !strings.HasPrefix(out.Run, "run-") {
					t.Errorf("run output event: %s", l)
				}
				found = true
			}
		case <-deadline:
			t.Fatalf("no run output on the stream; log:\n%s", f.log)
		}
	}
	cancel()
	stop()
	if _, err := os.Stat(filepath.Join(cov, daemon.HTTPFile)); !os.IsNotExist(err) {
		t.Errorf("daemon.http left after stop: %v", err)
	}
}
