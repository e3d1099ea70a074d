package covenant_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/tasks"
)

// TestServiceConcurrentWriters drives one Service from 8 goroutines, each
// making 200 writes of mixed ops (create, comment, link, start, heartbeat,
// release), half as alice (trust root) and half as bob (registered, with
// grants) through Service.As, while also reading. Run under the race
// detector (make test does) it proves the handle safe for concurrent use:
// no write lost or duplicated, each goroutine's tasks in the state its ops
// left them, and full verification clean.
func TestServiceConcurrentWriters(t *testing.T) {
	const workers, perWorker = 8, 200
	f := newFixture(t)
	f.initAlice()
	f.mustCLI("id", "new", "bob", "--role", "agent")
	f.mustCLI("id", "register", "bob", "--role", "agent", "--key", filepath.Join(f.home, "identities", "bob", "key.pub"),
		"--grant", "task.create", "--grant", "task.claim", "--grant", "task.link", "--grant", "task.comment")
	ctx := context.Background()
	svc := f.open()
	defer svc.Close()

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		as := svc.As("alice")
		if w%2 == 1 {
			as = svc.As("bob")
		}
		wg.Add(1)
		go func(w int, s *covenant.Service) {
			defer wg.Done()
			errs <- workerOps(ctx, s, w, perWorker)
		}(w, as)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// Every task once, with the state its worker's ops left: per cycle
	// of 8 ops two tasks, the first commented, linked, claimed, extended
	// and released; the second commented.
	var list []tasks.Summary
	err := svc.EachTask(ctx, true, func(_ []byte, s *tasks.Summary) error {
		list = append(list, *s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const cycles = perWorker / 8
	if len(list) != workers*cycles*2 {
		t.Fatalf("%d tasks, want %d", len(list), workers*cycles*2)
	}
	seen := map[string]bool{}
	for _, s := range list {
		if seen[s.Title] {
			t.Fatalf("task %q listed twice", s.Title)
		}
		seen[s.Title] = true
		if s.Lease != nil {
			t.Fatalf("task %s %q still leased: its release was lost", s.ID, s.Title)
		}
	}
	for w := 0; w < workers; w++ {
		for c := 0; c < cycles; c++ {
			for _, title := range []string{fmt.Sprintf("w%d-%02d-a", w, c), fmt.Sprintf("w%d-%02d-b", w, c)} {
				if !seen[title] {
					t.Fatalf("task %q is missing", title)
				}
			}
		}
	}

	// Full verification, in the service and by a separate process: every
	// op (two genesis, bob's registration and grant, and the 1,600)
	// applied, no finding.
	rep, err := svc.Verify(ctx, covenant.VerifyOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	const wantOps = workers*perWorker + 4
	if !rep.OK() || len(rep.Findings) != 0 || rep.Ops != wantOps || rep.Applied != wantOps {
		t.Fatalf("verify --full: %d ops, %d applied, findings %v; want %d ops all applied", rep.Ops, rep.Applied, rep.Findings, wantOps)
	}
	svc.Close()
	res := f.cli("verify", "--full", "--json")
	if res.code != 0 {
		t.Fatalf("git covenant verify --full: %s", res)
	}
	var cli covenant.VerifyReport
	if err := json.Unmarshal([]byte(res.stdout), &cli); err != nil {
		t.Fatal(err)
	}
	if cli.Applied != wantOps || len(cli.Findings) != 0 {
		t.Fatalf("git covenant verify --full: %d applied, findings %v", cli.Applied, cli.Findings)
	}
	f.fsck()
	if locks := f.lockFiles(); len(locks) != 0 {
		t.Fatalf("lock files left behind: %v", locks)
	}
}

// workerOps makes n writes in cycles of eight, reading between them, and
// checks each write returns the task as it folded it.
func workerOps(ctx context.Context, s *covenant.Service, w, n int) error {
	fail := func(op string, err error) error { return fmt.Errorf("worker %d: %s: %w", w, op, err) }
	for c := 0; c < n/8; c++ {
		a, err := s.CreateTask(ctx, tasks.CreateBody{Title: fmt.Sprintf("w%d-%02d-a", w, c)})
		if err != nil {
			return fail("create", err)
		}
		b, err := s.CreateTask(ctx, tasks.CreateBody{Title: fmt.Sprintf("w%d-%02d-b", w, c)})
		if err != nil {
			return fail("create", err)
		}
		if t, err := s.Comment(ctx, a.ID, "first"); err != nil || len(t.Comments) != 1 {
			return fail("comment", fmt.Errorf("%v (task %+v)", err, t))
		}
		if t, err := s.LinkTasks(ctx, covenant.LinkRequest{Task: a.ID, Kind: "relates-to", Other: b.ID[:10]}); err != nil || len(t.Links) != 1 {
			return fail("link", fmt.Errorf("%v (task %+v)", err, t))
		}
		t, err := s.StartTask(ctx, covenant.StartRequest{Task: a.ID, TTL: time.Hour})
		if err != nil || t.Lease == nil {
			return fail("start", fmt.Errorf("%v (task %+v)", err, t))
		}
		if t, err := s.Heartbeat(ctx, covenant.LeaseRequest{Task: a.ID, TTL: 2 * time.Hour}); err != nil || t.Lease == nil {
			return fail("heartbeat", fmt.Errorf("%v (task %+v)", err, t))
		}
		if t, err := s.Release(ctx, a.ID); err != nil || t.Lease != nil {
			return fail("release", fmt.Errorf("%v (task %+v)", err, t))
		}
		if _, err := s.Comment(ctx, b.ID, "second"); err != nil {
			return fail("comment", err)
		}
		// Reads run alongside the other workers' writes.
		d, err := s.ShowTask(ctx, a.ID)
		if err != nil {
			return fail("show", err)
		}
		if len(d.Task.History) != 6 {
			return fail("show", fmt.Errorf("%d history entries, want 6", len(d.Task.History)))
		}
	}
	return nil
}
