package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/gateway"
)

// Authentication: /health is the only route without a token; every other
// answers 401 (error/1, WWW-Authenticate) without one or with a wrong one,
// for reads, writes and mounts alike.
func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	secret := f.token("", "console", "read")
	mounted := false
	f.start(gateway.Options{Mounts: []gateway.Mount{{Path: "/mcp", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mounted = gateway.TokenFrom(r.Context()) != nil
		w.WriteHeader(204)
	})}}})

	if a := f.do("GET", "/health", "", nil); a.status != 200 || !strings.Contains(string(a.body), `"ok":true`) {
		t.Fatalf("/health: %d %s", a.status, a.body)
	}
	for _, rt := range f.gw.Routes() {
		if rt.Public {
			continue
		}
		path := strings.ReplaceAll(rt.Pattern, "{id}", "tk-000000000000")
		for name, sec := range map[string]string{"no token": "", "a wrong token": "gcvt_" + strings.Repeat("A", 43), "the hash": "0123"} {
			a := f.do(rt.Method, path, sec, nil)
			if a.status != http.StatusUnauthorized {
				t.Errorf("%s %s with %s: %d %s", rt.Method, path, name, a.status, a.body)
				continue
			}
			if p := a.problem(t); p.Code != "unauthorized" || p.Status != 6 {
				t.Errorf("%s %s: %+v", rt.Method, path, p)
			}
			if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s: no WWW-Authenticate", rt.Method, path)
			}
		}
	}
	if a := f.do("POST", "/mcp", "", nil); a.status != 401 || mounted {
		t.Errorf("mount without a token: %d, reached the handler: %v", a.status, mounted)
	}
	if a := f.do("GET", "/v1/tasks", "", nil, "Authorization", "Basic "+secret); a.status != 401 {
		t.Errorf("basic auth: %d", a.status)
	}
	// With the token: reads work, the mount sees the token.
	if a := f.do("GET", "/v1/tasks", secret, nil); a.status != 200 || strings.TrimSpace(string(a.body)) != "[]" {
		t.Errorf("task list: %d %s", a.status, a.body)
	}
	if a := f.do("POST", "/mcp", secret, nil); a.status != 204 || !mounted {
		t.Errorf("mount with a token: %d, token seen: %v", a.status, mounted)
	}
	var who gateway.Whoami
	f.do("GET", "/v1/whoami", secret, nil).json(t, &who)
	if who.Name != "console" || who.Operator != "alice" || len(who.Scopes) != 1 {
		t.Errorf("whoami: %+v", who)
	}
	if a := f.do("GET", "/v1/nothing", secret, nil); a.status != 404 || a.problem(t).Code != "not-found" {
		t.Errorf("unknown route: %d %s", a.status, a.body)
	}
	if a := f.do("DELETE", "/v1/tasks", secret, nil); a.status != 405 {
		t.Errorf("wrong method: %d %s", a.status, a.body)
	}
}

// DNS rebinding: a Host that is not the gateway's address, or an Origin
// that does not match it, is refused before anything else, even /health.
func TestHostAndOrigin(t *testing.T) {
	f := newFixture(t)
	secret := f.token("", "console", "read")
	f.start(gateway.Options{})
	port := f.host[strings.LastIndex(f.host, ":")+1:]
	for _, h := range []string{"evil.example:" + port, "evil.example", "127.0.0.1:1", "127.0.0.2:" + port, "localhost.evil.example:" + port} {
		for _, path := range []string{"/health", "/v1/tasks"} {
			a := f.do("GET", path, secret, nil, "Host", h)
			if a.status != http.StatusForbidden {
				t.Errorf("Host %q %s: %d %s", h, path, a.status, a.body)
				continue
			}
			if p := a.problem(t); p.Code != "unauthorized" {
				t.Errorf("Host %q: %+v", h, p)
			}
		}
	}
	for _, h := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST:" + port} {
		if a := f.do("GET", "/v1/tasks", secret, nil, "Host", h); a.status != 200 {
			t.Errorf("Host %q: %d %s", h, a.status, a.body)
		}
	}
	for _, o := range []string{"http://evil.example", "http://evil.example:" + port, "null", "https://" + f.host, "http://127.0.0.1:1"} {
		if a := f.do("GET", "/v1/tasks", secret, nil, "Origin", o); a.status != http.StatusForbidden {
			t.Errorf("Origin %q: %d %s", o, a.status, a.body)
		}
	}
	if a := f.do("GET", "/v1/tasks", secret, nil, "Origin", "http://"+f.host); a.status != 200 {
		t.Errorf("own Origin: %d %s", a.status, a.body)
	}
}

// A rotated token's old secret and a revoked token are refused at the next
// request, the CLI changing the token file from another process.
func TestRotatedAndRevoked(t *testing.T) {
	f := newFixture(t)
	old := f.token("", "console", "read")
	other := f.token("", "other", "read")
	f.start(gateway.Options{})
	if a := f.do("GET", "/v1/tasks", old, nil); a.status != 200 {
		t.Fatalf("before rotation: %d %s", a.status, a.body)
	}
	fresh := secretRE.FindString(f.cli("token", "rotate", "console"))
	if a := f.do("GET", "/v1/tasks", old, nil); a.status != 401 || !strings.Contains(a.problem(t).Message, "token refused") {
		t.Errorf("the old secret after rotation: %d %s", a.status, a.body)
	}
	if a := f.do("GET", "/v1/tasks", fresh, nil); a.status != 200 {
		t.Errorf("the new secret: %d %s", a.status, a.body)
	}
	f.cli("token", "revoke", "console", "--reason", "test")
	if a := f.do("GET", "/v1/tasks", fresh, nil); a.status != 401 || !strings.Contains(a.problem(t).Message, "revoked") {
		t.Errorf("a revoked token: %d %s", a.status, a.body)
	}
	if a := f.do("GET", "/v1/tasks", other, nil); a.status != 200 {
		t.Errorf("another token after a revocation: %d %s", a.status, a.body)
	}
	// The token file holds hashes, never a secret.
	raw, err := os.ReadFile(filepath.Join(f.dir, ".git", "covenant", "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{old, fresh, other, "gcvt_"} {
		if strings.Contains(string(raw), s) {
			t.Fatalf("the token file holds %q:\n%s", s, raw)
		}
	}
	if fi, _ := os.Stat(filepath.Join(f.dir, ".git", "covenant", "tokens.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v", fi.Mode().Perm())
	}
}

// Writes: the token must carry the scope (403 naming it otherwise), and its
// operator must hold it (403 naming it otherwise); what is written is
// signed by the operator.
func TestWriteScopes(t *testing.T) {
	f := newFixture(t)
	f.cli("id", "new", "bob", "--role", "agent")
	key := strings.TrimSpace(f.cli("id", "show", "bob"))
	f.cli("id", "register", "bob", "--role", "agent", "--key", key, "--grant", "task.create", "--grant", "task.comment")
	readOnly := f.token("", "ro", "read")
	creator := f.token("", "creator", "task.create")
	bobs := f.token("bob", "bobs", "task.create", "task.comment")
	grant := ""
	for _, line := range strings.Split(f.cli("cap", "list", "--identity", "bob"), "\n") {
		if strings.Contains(line, "task.comment") {
			grant = strings.Fields(line)[0]
		}
	}
	f.start(gateway.Options{})
	before := f.cli("log")

	a := f.do("POST", "/v1/tasks", readOnly, map[string]any{"title": "nope"})
	if a.status != 403 {
		t.Fatalf("create with a read-only token: %d %s", a.status, a.body)
	}
	if p := a.problem(t); p.Scope != "task.create" || !strings.Contains(p.Message, "task.create") || p.Status != 6 {
		t.Errorf("refusal: %+v", p)
	}
	if f.cli("log") != before {
		t.Fatal("a refused write wrote something")
	}
	a = f.do("POST", "/v1/tasks", creator, map[string]any{"title": "from the gateway", "labels": []string{"api"}})
	if a.status != 201 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	var task struct {
		Schema, ID, Title string
		CreatedBy         struct{ Name string } `json:"created_by"`
	}
	a.json(t, &task)
	if task.Schema != "task/1" || task.Title != "from the gateway" {
		t.Fatalf("created: %s", a.body)
	}
	if log := f.cli("log"); !strings.Contains(log, "alice") || !strings.Contains(log, "task.create") {
		t.Errorf("the create is not alice's:\n%s", log)
	}
	// creator carries task.create only: a comment is refused naming task.comment.
	if a := f.do("POST", "/v1/tasks/"+task.ID+"/comment", creator, map[string]any{"text": "hi"}); a.status != 403 || a.problem(t).Scope != "task.comment" {
		t.Errorf("comment without the scope: %d %s", a.status, a.body)
	}
	// bob's token carries task.comment and bob holds it: allowed, as bob.
	if a := f.do("POST", "/v1/tasks/"+task.ID+"/comment", bobs, map[string]any{"text": "from bob"}); a.status != 200 {
		t.Fatalf("bob's comment: %d %s", a.status, a.body)
	}
	// bob loses the grant: his token still carries the scope, he does not.
	f.cli("cap", "revoke", grant, "--reason", "test")
	a = f.do("POST", "/v1/tasks/"+task.ID+"/comment", bobs, map[string]any{"text": "again"})
	if a.status != 403 {
		t.Fatalf("comment after the grant's revocation: %d %s", a.status, a.body)
	}
	if p := a.problem(t); p.Scope != "task.comment" || !strings.Contains(p.Message, "bob") {
		t.Errorf("refusal: %+v", p)
	}
	// Bad bodies: 400, nothing written.
	before = f.cli("log")
	for _, body := range []string{`{"title":"x","colour":"red"}`, `{"title":""}`, `[1]`, `{"title":"x"} {"title":"y"}`, `{"title":"x","priority":"urgent!"}`, strings.Repeat(" ", gateway.MaxBody+1)} {
		if a := f.do("POST", "/v1/tasks", creator, body); a.status != 400 || a.problem(t).Code != "usage" {
			t.Errorf("body %.40q: %d %s", body, a.status, a.body)
		}
	}
	if f.cli("log") != before {
		t.Error("a bad body wrote something")
	}
	if a := f.do("POST", "/v1/tasks/tk-000000000000/comment", bobs, map[string]any{"text": "x"}); a.status != 404 {
		t.Errorf("comment on an unknown task: %d %s", a.status, a.body)
	}
}

// The task flow through the gateway: create, start, handoff, move, show,
// the ready queue, the log, verify, identities, capabilities, runs.
func TestTaskFlow(t *testing.T) {
	f := newFixture(t)
	all := f.token("", "all", "task.create", "task.claim", "task.handoff", "task.move", "task.comment")
	f.start(gateway.Options{})
	var task struct{ ID, State string }
	f.do("POST", "/v1/tasks", all, map[string]any{"title": "flow", "priority": "high"}).json(t, &task)
	var ready []struct{ ID string }
	f.do("GET", "/v1/queue/ready", all, nil).json(t, &ready)
	if len(ready) != 1 || ready[0].ID != task.ID {
		t.Fatalf("ready: %+v", ready)
	}
	for _, step := range []struct {
		path string
		body any
		want int
	}{
		{"/start", map[string]any{"ttl": "1h"}, 200},
		{"/start", map[string]any{"ttl": "soon"}, 400},
		{"/heartbeat", map[string]any{"ttl": "2h"}, 200},
		{"/handoff", map[string]any{"summary": "half done", "next": []string{"finish"}, "keep_lease": true}, 200},
		{"/move", map[string]any{"to": "nowhere"}, 400},
		{"/move", map[string]any{"to": "integrated"}, 409},
		{"/move", map[string]any{"to": "self_review", "note": "ready"}, 200},
	} {
		if a := f.do("POST", "/v1/tasks/"+task.ID+step.path, all, step.body); a.status != step.want {
			t.Errorf("%s %v: %d %s", step.path, step.body, a.status, a.body)
		}
	}
	var shown struct {
		Schema, State string
		Handoff       struct{ Summary string }
	}
	f.do("GET", "/v1/tasks/"+task.ID[:8], all, nil).json(t, &shown)
	if shown.Schema != "task/1" || shown.State != "self_review" || shown.Handoff.Summary != "half done" {
		t.Errorf("show: %+v", shown)
	}
	var log []struct{ Schema, Type string }
	f.do("GET", "/v1/log?task="+task.ID, all, nil).json(t, &log)
	if len(log) < 5 || log[0].Schema != "log-entry/1" {
		t.Errorf("log: %+v", log)
	}
	var ver struct {
		Schema   string
		Ops      int
		Findings []any
	}
	f.do("GET", "/v1/verify", all, nil).json(t, &ver)
	if ver.Schema != "verify/1" || ver.Ops == 0 || len(ver.Findings) != 0 {
		t.Errorf("verify: %+v", ver)
	}
	for path, schema := range map[string]string{"/v1/identities": "trust/1", "/v1/capabilities/check?scope=task.claim&task=" + task.ID: "cap-check/1"} {
		var v struct{ Schema string }
		if f.do("GET", path, all, nil).json(t, &v); v.Schema != schema {
			t.Errorf("%s: schema %q", path, v.Schema)
		}
	}
	for _, path := range []string{"/v1/capabilities", "/v1/runs", "/v1/agents", "/v1/tasks?state=self_review"} {
		if a := f.do("GET", path, all, nil); a.status != 200 || a.body[0] != '[' {
			t.Errorf("%s: %d %s", path, a.status, a.body)
		}
	}
	if a := f.do("GET", "/v1/tasks?state=limbo", all, nil); a.status != 400 {
		t.Errorf("unknown state: %d", a.status)
	}
}

// A non-loopback bind refuses to start without TLS; with a certificate it
// serves TLS and checks the Host against its own address.
func TestNonLoopbackNeedsTLS(t *testing.T) {
	f := newFixture(t)
	svc := f.open()
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "192.0.2.1:0", "example.com:0"} {
		if _, err := gateway.New(gateway.Options{Service: svc, Addr: addr}); !errors.Is(err, gateway.ErrInsecureBind) {
			t.Errorf("%s without TLS: %v", addr, err)
		}
	}
	if _, err := gateway.New(gateway.Options{Service: svc, Addr: "0.0.0.0:0", CertFile: "x"}); !errors.Is(err, gateway.ErrInsecureBind) {
		t.Errorf("a certificate without a key: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		if _, err := gateway.New(gateway.Options{Service: svc, Addr: addr}); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
	cert, key := selfSigned(t)
	gw, err := gateway.New(gateway.Options{Service: svc, Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if !strings.HasPrefix(gw.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %s", gw.URL())
	}
	c := tlsClient(t, cert)
	resp, err := c.Get(gw.URL() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/health over TLS: %d", resp.StatusCode)
	}
	resp, err = c.Get(strings.Replace(gw.URL(), "https", "http", 1) + "/health")
	if err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP served on a TLS gateway")
	}
}

// An op written by another process (the CLI) arrives on the event stream,
// and a client resuming with Last-Event-ID gets what it missed.
func TestEventsFromAnotherProcess(t *testing.T) {
	f := newFixture(t)
	secret := f.token("", "watcher", "read")
	f.start(gateway.Options{Poll: time.Hour}) // the watcher, not the poll, must deliver
	req, _ := http.NewRequest("GET", f.url+"/v1/events?types=op", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan [2]string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var id string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{id, strings.TrimPrefix(line, "data: ")}
			}
		}
		close(events)
	}()
	f.cli("task", "create", "written elsewhere")
	var first [2]string
	select {
	case first = <-events:
	case <-time.After(3 * time.Minute):
		t.Fatal("no event for the CLI's op")
	}
	if !strings.Contains(first[1], `"type":"task.create"`) || !strings.Contains(first[1], `"schema":"log-entry/1"`) || first[0] == "" {
		t.Fatalf("event: %v", first)
	}
	// Resume after the first: the second op is replayed.
	f.cli("task", "create", "written while away")
	id, data := f.streamOnce(t, secret, first[0])
	if id <= first[0] || !strings.Contains(data, `"type":"task.create"`) {
		t.Errorf("resumed stream after %s: %s %s", first[0], id, data)
	}
}

// streamOnce opens the stream after an event id and returns the first
// event's id and data.
func (f *fixture) streamOnce(t *testing.T, secret, after string) (string, string) {
	req, _ := http.NewRequest("GET", f.url+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Last-Event-ID", after)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	id := ""
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			id = v
		}
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			return id, d
		}
	}
	return "", ""
}

// Memory, mailbox and budget reads mirror memory list/search/show, a2a
// status and budget status, written here through the real CLI.
func TestMemoryMailboxBudgetReads(t *testing.T) {
	f := newFixture(t)
	f.cli("memory", "add", "--tier", "longterm", "--text", "the lexer keeps tabs", "--tag", "lexer")
	f.cli("a2a", "send", "alice", "--kind", "review", "--body", "look at the lexer")
	reader := f.token("", "reader", "read")
	f.start(gateway.Options{})
	var mems []struct{ Schema, ID, Tier string }
	f.do("GET", "/v1/memories?tier=longterm", reader, nil).json(t, &mems)
	if len(mems) != 1 || mems[0].Schema != "memory/1" || mems[0].Tier != "longterm" {
		t.Fatalf("memories: %+v", mems)
	}
	var hits []struct {
		Schema string
		Memory struct{ ID string }
	}
	f.do("GET", "/v1/memories/search?q=lexer+tabs", reader, nil).json(t, &hits)
	if len(hits) != 1 || hits[0].Schema != "memory-hit/1" || hits[0].Memory.ID != mems[0].ID {
		t.Fatalf("search: %+v", hits)
	}
	if a := f.do("GET", "/v1/memories/search", reader, nil); a.status != 400 {
		t.Errorf("search without q: %d %s", a.status, a.body)
	}
	if a := f.do("GET", "/v1/memories/"+mems[0].ID, reader, nil); a.status != 200 {
		t.Errorf("memory show: %d %s", a.status, a.body)
	}
	if p := f.do("GET", "/v1/memories/mem-000000000000", reader, nil); p.status != 404 || p.problem(t).Code != "not-found" {
		t.Errorf("an unknown memory: %d %s", p.status, p.body)
	}
	var msgs []struct {
		Schema, ID, To string
		Status         struct{ State string }
	}
	f.do("GET", "/v1/messages?to=alice&open=true", reader, nil).json(t, &msgs)
	if len(msgs) != 1 || msgs[0].Schema != "mailbox-message/1" || msgs[0].Status.State != "queued" {
		t.Fatalf("messages: %+v", msgs)
	}
	if a := f.do("GET", "/v1/messages/"+msgs[0].ID, reader, nil); a.status != 200 {
		t.Errorf("message: %d %s", a.status, a.body)
	}
	if a := f.do("GET", "/v1/budgets", reader, nil); a.status != 200 || !bytes.HasPrefix(bytes.TrimSpace(a.body), []byte("[")) {
		t.Errorf("budgets: %d %s", a.status, a.body)
	}
}
