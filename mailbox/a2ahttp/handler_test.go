package a2ahttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/a2aproject/a2a-go/a2a"
	"github.com/a2aproject/a2a-go/a2aclient"
	"github.com/a2aproject/a2a-go/a2aclient/agentcard"
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/gateway"
	"github.com/git-covenant/git-covenant/internal/testgit"
	"github.com/git-covenant/git-covenant/mailbox/a2ahttp"
)

var binPath string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "a2ahttp-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if binPath, err = testgit.BuildBinary(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

type repo struct {
	t   *testing.T
	dir string
	env []string
}

func newRepo(t *testing.T) *repo {
	base := t.TempDir()
	home := filepath.Join(base, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	return &repo{t: t, dir: testgit.Init(t), env: append(testgit.Env(home), "GIT_COVENANT_HOME="+filepath.Join(base, "keys"))}
}

func (r *repo) getenv(k string) string {
	for _, kv := range r.env {
		if name, v, _ := strings.Cut(kv, "="); name == k {
			return v
		}
	}
	return ""
}

// cli runs the real git-covenant binary in the repository.
func (r *repo) cli(args ...string) string {
	r.t.Helper()
	out, errs, code := testgit.Exec(r.dir, r.env, binPath, args...)
	if code != 0 {
		r.t.Fatalf("git-covenant %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func (r *repo) token(name string, scopes ...string) string {
	r.t.Helper()
	args := []string{"token", "create", "--name", name, "--json"}
	for _, s := range scopes {
		args = append(args, "--scope", s)
	}
	var issued struct{ Secret string }
	if err := json.Unmarshal([]byte(r.cli(args...)), &issued); err != nil || issued.Secret == "" {
		r.t.Fatalf("token %s: %v %+v", name, err, issued)
	}
	return issued.Secret
}

// bearer adds a token to every request of the A2A client.
type bearer struct{ secret string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.secret != "" {
		r.Header.Set("Authorization", "Bearer "+b.secret)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func client(t *testing.T, card *a2a.AgentCard, secret string) *a2aclient.Client {
	t.Helper()
	c, err := a2aclient.NewFromCard(context.Background(), card, a2aclient.WithJSONRPCTransport(&http.Client{Transport: bearer{secret}}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func textOf(parts a2a.ContentParts) string {
	var b strings.Builder
	for _, p := range parts {
		if tp, ok := p.(a2a.TextPart); ok {
			b.WriteString(tp.Text)
		}
	}
	return b.String()
}

// The a2a-go client, as an agent on another stack would use it, finds the
// covenant agent by its card, sends it a message under an operator token,
// and reads the result once the agent (played here through the real CLI,
// a2a recv and a2a respond) has answered: through a loopback server of the
// test's own, and mounted on the daemon's HTTP gateway (package gateway),
// which checks the token before the handler sees the request (the card
// too).
func TestA2AClientSendsAndReadsResult(t *testing.T) {
	for _, via := range []string{"loopback", "gateway"} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			r.cli("init", "--name", "alice")
			r.cli("id", "new", "reviewer", "--role", "agent")
			r.cli("agent", "init", "reviewer", "--template", "script")
			keys := r.getenv("GIT_COVENANT_HOME")
			r.cli("id", "register", "reviewer", "--role", "agent", "--key", filepath.Join(keys, "identities", "reviewer", "key.pub"), "--grant", "a2a.receive", "--grant", "a2a.respond")
			sender := r.token("a2a-peer", "a2a.send.reviewer")
			reader := r.token("reader", "read")

			ctx := context.Background()
			svc, err := covenant.Open(ctx, covenant.Options{Dir: r.dir, Getenv: r.getenv, Env: r.env})
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Close()
			var base string
			var cardOpts []agentcard.ResolveOption
			if via == "loopback" {
				srv := httptest.NewServer(a2ahttp.New(a2ahttp.Options{Service: svc, Prefix: "/a2a"}))
				defer srv.Close()
				base = srv.URL
			} else {
				gw, err := gateway.New(gateway.Options{Service: svc, NoWatch: true, Mounts: []gateway.Mount{{Path: "/a2a",
					Handler: a2ahttp.New(a2ahttp.Options{Service: svc, Prefix: "/a2a", Authenticate: a2ahttp.GatewayAuth})}}})
				if err != nil {
					t.Fatal(err)
				}
				if err := gw.Start(ctx); err != nil {
					t.Fatal(err)
				}
				defer gw.Close()
				base = strings.TrimRight(gw.URL(), "/")
				if _, err := agentcard.NewResolver(http.DefaultClient).Resolve(ctx, base+"/a2a/reviewer"); err == nil {
					t.Error("the gateway served a card without a token")
				}
				cardOpts = append(cardOpts, agentcard.WithRequestHeader("Authorization", "Bearer "+reader))
			}
			exchange(t, r, svc, base, cardOpts, sender, reader)
		})
	}
}

func exchange(t *testing.T, r *repo, svc *covenant.Service, base string, cardOpts []agentcard.ResolveOption, sender, reader string) {
	ctx := context.Background()
	card, err := agentcard.NewResolver(http.DefaultClient).Resolve(ctx, base+"/a2a/reviewer", cardOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if card.Name != "reviewer" || card.URL != base+"/a2a/reviewer" || card.PreferredTransport != a2a.TransportProtocolJSONRPC {
		t.Fatalf("card: %+v", card)
	}
	if _, err := agentcard.NewResolver(http.DefaultClient).Resolve(ctx, base+"/a2a/nobody", cardOpts...); err == nil {
		t.Error("a card for an agent with no manifest")
	}

	c := client(t, card, sender)
	msg := a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "review the handoff of the login fix"})
	msg.Metadata = map[string]any{"kind": "review"}
	res, err := c.SendMessage(ctx, &a2a.MessageSendParams{Message: msg, Config: nonBlocking()})
	if err != nil {
		t.Fatal(err)
	}
	task, ok := res.(*a2a.Task)
	if !ok || task.Status.State != a2a.TaskStateSubmitted || !strings.HasPrefix(string(task.ID), "msg-") {
		t.Fatalf("send result: %#v", res)
	}
	// The same A2A message again is the same mailbox message.
	if again, err := c.SendMessage(ctx, &a2a.MessageSendParams{Message: msg, Config: nonBlocking()}); err != nil || again.(*a2a.Task).ID != task.ID {
		t.Fatalf("resend: %v %v", again, err)
	}

	// The covenant agent claims it through the mailbox.
	var claimed struct {
		ID, Kind, Body string
		From           struct{ Name string }
	}
	if err := json.Unmarshal([]byte(r.cli("--as", "reviewer", "a2a", "recv", "--json")), &claimed); err != nil {
		t.Fatal(err)
	}
	if claimed.ID != string(task.ID) || claimed.Kind != "review" || claimed.From.Name != "alice" || !strings.Contains(claimed.Body, "login fix") {
		t.Fatalf("claimed: %+v", claimed)
	}
	got, err := c.GetTask(ctx, &a2a.TaskQueryParams{ID: task.ID})
	if err != nil || got.Status.State != a2a.TaskStateWorking {
		t.Fatalf("while in flight: %+v %v", got, err)
	}
	r.cli("--as", "reviewer", "a2a", "respond", claimed.ID, "--result", "approved: the retry covers the race")

	got, err = c.GetTask(ctx, &a2a.TaskQueryParams{ID: task.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.State != a2a.TaskStateCompleted || len(got.Artifacts) != 1 || textOf(got.Artifacts[0].Parts) != "approved: the retry covers the race" {
		t.Fatalf("completed task: %+v", got)
	}
	// Reading the result acknowledged it for the sender: the message is
	// resolved, not left result_pending.
	if v, err := svc.Message(ctx, string(task.ID)); err != nil || v.Status.State != "resolved" || got.Metadata["mailbox_state"] != "resolved" {
		t.Fatalf("after tasks/get: %+v %v (metadata %v)", v, err, got.Metadata)
	}

	// A token without a2a.send for this agent may not send; without a
	// valid token nothing is answered.
	if _, err := client(t, card, reader).SendMessage(ctx, &a2a.MessageSendParams{Message: a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "x"})}); err == nil || !errors.Is(err, a2a.ErrInvalidRequest) {
		t.Errorf("send with a read-only token: %v", err)
	}
	if _, err := client(t, card, "").GetTask(ctx, &a2a.TaskQueryParams{ID: task.ID}); err == nil {
		t.Error("tasks/get without a token")
	}
	if _, err := client(t, card, "gcvt_not-a-token").GetTask(ctx, &a2a.TaskQueryParams{ID: task.ID}); err == nil {
		t.Error("tasks/get with a bad token")
	}
	var n int
	if err := svc.EachRecord(ctx, "a2a.message", func(string, []byte) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("%d messages written, want 1 (%v)", n, err)
	}
}

func nonBlocking() *a2a.MessageSendConfig {
	f := false
	return &a2a.MessageSendConfig{Blocking: &f}
}

// answer plays the covenant agent in the background: it claims the next
// message through the real CLI as soon as one is there (bounded) and
// answers it.
func (r *repo) answer(result string) <-chan error {
	ch := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(2 * time.Minute) // a bound for a loaded machine, not a timing assertion
		for {
			out, errs, code := testgit.Exec(r.dir, r.env, binPath, "--as", "reviewer", "a2a", "recv", "--json")
			if code == 0 {
				var m struct{ ID string }
				json.Unmarshal([]byte(out), &m)
				_, errs, code = testgit.Exec(r.dir, r.env, binPath, "--as", "reviewer", "a2a", "respond", m.ID, "--result", result)
				if code != 0 {
					ch <- fmt.Errorf("respond: exit %d: %s", code, errs)
					return
				}
				ch <- nil
				return
			}
			if code != 4 || time.Now().After(deadline) {
				ch <- fmt.Errorf("recv: exit %d: %s", code, errs)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return ch
}

// A blocking message/send waits for the agent's result (answered here by
// another process through the CLI) and returns it, the message resolved;
// message/stream streams the task to its completion with the result as
// an artifact; tasks/cancel withdraws a message not answered yet, once,
// and only for a token that may send to the agent.
func TestA2ABlockingStreamCancel(t *testing.T) {
	r := newRepo(t)
	r.cli("init", "--name", "alice")
	r.cli("id", "new", "reviewer", "--role", "agent")
	r.cli("agent", "init", "reviewer", "--template", "script")
	keys := r.getenv("GIT_COVENANT_HOME")
	r.cli("id", "register", "reviewer", "--role", "agent", "--key", filepath.Join(keys, "identities", "reviewer", "key.pub"), "--grant", "a2a.receive", "--grant", "a2a.respond")
	sender := r.token("a2a-peer", "a2a.send.reviewer")
	reader := r.token("reader", "read")
	ctx := context.Background()
	svc, err := covenant.Open(ctx, covenant.Options{Dir: r.dir, Getenv: r.getenv, Env: r.env})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	srv := httptest.NewServer(a2ahttp.New(a2ahttp.Options{Service: svc, Prefix: "/a2a", BlockFor: 3 * time.Minute}))
	defer srv.Close()
	card, err := agentcard.NewResolver(http.DefaultClient).Resolve(ctx, srv.URL+"/a2a/reviewer")
	if err != nil {
		t.Fatal(err)
	}
	if !card.Capabilities.Streaming {
		t.Fatal("the card does not offer streaming")
	}
	c := client(t, card, sender)

	// Blocking (the a2a-go client's default).
	done := r.answer("blocking: approved")
	res, err := c.SendMessage(ctx, &a2a.MessageSendParams{Message: a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "review A"})})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, ok := res.(*a2a.Task)
	if !ok || got.Status.State != a2a.TaskStateCompleted || len(got.Artifacts) != 1 || textOf(got.Artifacts[0].Parts) != "blocking: approved" {
		t.Fatalf("blocking send: %#v", res)
	}
	if v, err := svc.Message(ctx, string(got.ID)); err != nil || v.Status.State != "resolved" {
		t.Fatalf("after a blocking send: %+v %v", v, err)
	}

	// Streaming.
	done = r.answer("streamed: approved")
	var states []a2a.TaskState
	var artifact string
	var final bool
	for ev, err := range c.SendStreamingMessage(ctx, &a2a.MessageSendParams{Message: a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "review B"})}) {
		if err != nil {
			t.Fatal(err)
		}
		switch e := ev.(type) {
		case *a2a.Task:
			states = append(states, e.Status.State)
		case *a2a.TaskStatusUpdateEvent:
			states = append(states, e.Status.State)
			final = final || e.Final
		case *a2a.TaskArtifactUpdateEvent:
			artifact = textOf(e.Artifact.Parts)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(states) < 2 || states[0] != a2a.TaskStateSubmitted || states[len(states)-1] != a2a.TaskStateCompleted || !final || artifact != "streamed: approved" {
		t.Fatalf("stream: states %v final %v artifact %q", states, final, artifact)
	}

	// Cancel.
	res, err = c.SendMessage(ctx, &a2a.MessageSendParams{Message: a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "review C"}), Config: nonBlocking()})
	if err != nil {
		t.Fatal(err)
	}
	id := res.(*a2a.Task).ID
	if _, err := client(t, card, reader).CancelTask(ctx, &a2a.TaskIDParams{ID: id}); err == nil {
		t.Error("a read-only token cancelled a message")
	}
	cancelled, err := c.CancelTask(ctx, &a2a.TaskIDParams{ID: id})
	if err != nil || cancelled.Status.State != a2a.TaskStateCanceled {
		t.Fatalf("cancel: %+v %v", cancelled, err)
	}
	if _, err := c.CancelTask(ctx, &a2a.TaskIDParams{ID: id}); !errors.Is(err, a2a.ErrTaskNotCancelable) {
		t.Errorf("a second cancel: %v", err)
	}
	if _, errs, code := testgit.Exec(r.dir, r.env, binPath, "--as", "reviewer", "a2a", "recv", "--json"); code != 4 {
		t.Errorf("the agent could claim a cancelled message: exit %d %s", code, errs)
	}
}
