package remote_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/ledger"
	"github.com/git-covenant/git-covenant/tasks"
)

func taskBody(title string) tasks.CreateBody { return tasks.CreateBody{Title: title} }

// permutations of 0..2: every order three clones can sync in.
var orders = [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}

// TestThreeClonesConverge: over a bare repository reached through file://
// and through git's smart HTTP, three clones with their own identities
// write tasks and moves and sync in every order. In the end every clone
// has the remote's feeds, the same state digest and byte-identical task
// list, no op is lost, and verify is clean everywhere.
func TestThreeClonesConverge(t *testing.T) {
	for _, transport := range []string{"file", "http"} {
		t.Run(transport, func(t *testing.T) {
			cl := newCluster(t, transport, "alice", "bob", "carol")
			// So far: alice's genesis and two registrations with grants;
			// bob's and carol's genesis ops come with their first writes.
			written := cl.clones[0].logCount() + 2
			own := map[string][]string{}
			for round, order := range orders {
				// Every clone writes before anyone syncs: the feeds of
				// the round interleave in Lamport order.
				for _, c := range cl.clones {
					id := c.create(fmt.Sprintf("%s task %d", c.name, round))
					own[c.name] = append(own[c.name], id)
					written++
					if round%2 == 0 {
						c.mustCLI("task", "start", id, "--ttl", "1h")
						c.mustCLI("task", "move", id, "self_review")
						written += 2
					}
				}
				for _, i := range order {
					c := cl.clones[i]
					rep := c.sync()
					if rep.Attempts < 1 {
						t.Fatalf("%s: sync made no attempt", c.name)
					}
					// After syncing, comment on a task another clone
					// created: cross-feed ops.
					other := cl.clones[(i+1)%3]
					if ids := own[other.name]; len(ids) > 0 && round > 0 {
						c.mustCLI("task", "comment", ids[0], fmt.Sprintf("seen by %s in round %d", c.name, round))
						written++
					}
				}
			}
			cl.converge()
			cl.assertConverged()
			for _, c := range cl.clones {
				if got := c.logCount(); got != written {
					t.Fatalf("%s has %d ops, %d were written", c.name, got, written)
				}
				if got := c.feedLength(); got != written {
					t.Fatalf("%s feeds hold %d commits, %d ops were written", c.name, got, written)
				}
				if res := c.cli("verify"); res.code != 0 {
					t.Fatalf("%s: verify: %s", c.name, res)
				}
				if res := c.cli("verify", "--full"); res.code != 0 {
					t.Fatalf("%s: verify --full: %s", c.name, res)
				}
			}
			// A fresh clone with no identity at all catches up with one sync.
			fresh := &clone{t: t, name: "fresh", dir: t.TempDir() + "/fresh", home: t.TempDir()}
			git(t, "", "clone", "-q", cl.url, fresh.dir)
			fresh.mustCLI("remote", "setup")
			fresh.mustCLI("sync")
			if got, want := fresh.digest(), cl.clones[0].digest(); got != want {
				t.Fatalf("fresh clone digest %s, want %s", got, want)
			}
		})
	}
}

// randomScale is the size of the randomized convergence test: seeds and
// ops per seed, larger under GIT_COVENANT_SYNC_SEEDS / _OPS (make bench).
func randomScale() (seeds, ops int) {
	seeds, ops = 3, 24
	if n, err := strconv.Atoi(os.Getenv("GIT_COVENANT_SYNC_SEEDS")); err == nil && n > 0 {
		seeds = n
	}
	if n, err := strconv.Atoi(os.Getenv("GIT_COVENANT_SYNC_OPS")); err == nil && n > 0 {
		ops = n
	}
	return seeds, ops
}

// TestRandomConvergence: random ops on three clones (creates, claims that
// may race, moves that may be illegal by the time they meet, comments,
// handoffs) and random syncs, for many seeds. Whatever happened, once
// every clone synced the clones agree byte for byte, no op is lost, and
// verify finds only fold-level rejections (lost races), the same ones
// everywhere.
func TestRandomConvergence(t *testing.T) {
	seeds, ops := randomScale()
	base := uint64(time.Now().UnixNano())
	for s := 0; s < seeds; s++ {
		seed := base + uint64(s)
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomRun(t, seed, ops) })
	}
}

func randomRun(t testing.TB, seed uint64, ops int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cl := newCluster(t, "file", "alice", "bob", "carol")
	clock := time.Now().UTC().Truncate(time.Second)
	for _, c := range cl.clones {
		c.now = func() time.Time { return clock }
	}
	written := cl.clones[0].feedLength()
	known := [3][]string{}
	var n int
	active := map[int]bool{0: true} // clones with a feed: bob's and carol's start with a genesis op
	wrote := func(err error) {
		if err == nil {
			written++
			if !active[n] {
				active[n] = true
				written++
			}
		}
	}
	for i := 0; i < ops; i++ {
		clock = clock.Add(time.Duration(rng.IntN(20)) * time.Minute)
		n = rng.IntN(3)
		c := cl.clones[n]
		r := c.repo()
		pick := func() string {
			if len(known[n]) == 0 {
				return ""
			}
			return known[n][rng.IntN(len(known[n]))]
		}
		switch op := rng.IntN(10); {
		case op < 3:
			tk, err := r.CreateTask(context.Background(), taskBody(fmt.Sprintf("%s %d", c.name, i)))
			wrote(err)
			if err == nil {
				known[n] = append(known[n], tk.ID)
			}
		case op < 5:
			if id := pick(); id != "" {
				_, err := r.StartTask(context.Background(), covenant.StartRequest{Task: id, TTL: time.Duration(30+rng.IntN(60)) * time.Minute})
				wrote(err)
			}
		case op < 6:
			if id := pick(); id != "" {
				_, err := r.MoveTask(context.Background(), covenant.MoveRequest{Task: id, To: []string{"self_review", "triaged", "blocked", "in_progress"}[rng.IntN(4)]})
				wrote(err)
			}
		case op < 7:
			if id := pick(); id != "" {
				_, err := r.Comment(context.Background(), id, fmt.Sprintf("note %d", i))
				wrote(err)
			}
		case op < 8:
			if id := pick(); id != "" {
				_, err := r.HandoffTask(context.Background(), covenant.HandoffRequest{Task: id, Handoff: tasks.Handoff{Summary: fmt.Sprintf("handoff %d", i), Next: []string{}, Questions: []string{},
					Files: []tasks.FileRef{}, Commits: []string{}, Validation: tasks.Validation{Status: "not-run"}}})
				wrote(err)
			}
		default:
			rep, err := r.Sync(context.Background(), "origin")
			if err != nil {
				t.Fatalf("seed %d op %d: %s sync: %v", seed, i, c.name, err)
			}
			if !rep.OK() {
				t.Fatalf("seed %d op %d: %s sync findings: %v", seed, i, c.name, rep.Findings)
			}
			known[n] = allTasks(t, r)
		}
	}
	cl.converge()
	cl.assertConverged()
	var want []ledger.Finding
	for i, c := range cl.clones {
		if got := c.feedLength(); got != written {
			t.Fatalf("seed %d: %s feeds hold %d commits, %d ops were written", seed, c.name, got, written)
		}
		rep, err := c.repo().Verify(context.Background(), covenant.VerifyOptions{Full: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rep.Findings {
			if !foldKind(f.Kind) {
				t.Fatalf("seed %d: %s: verify found a feed-level problem in honest histories: %v", seed, c.name, f)
			}
		}
		if i == 0 {
			want = rep.Findings
		} else if fmt.Sprint(rep.Findings) != fmt.Sprint(want) {
			t.Fatalf("seed %d: %s verify findings differ:\n%v\nwant:\n%v", seed, c.name, rep.Findings, want)
		}
	}
}

func foldKind(k string) bool {
	switch k {
	case "lease-conflict", "stale-epoch", "lease-expired", "illegal-transition", "duplicate":
		return true
	}
	return false
}

func allTasks(t testing.TB, r *covenant.Service) []string {
	var ids []string
	err := r.EachTask(context.Background(), true, func(_ []byte, s *tasks.Summary) error {
		ids = append(ids, s.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// BenchmarkRandomConvergence runs the randomized convergence test at the
// size GIT_COVENANT_SYNC_SEEDS / GIT_COVENANT_SYNC_OPS ask for (make bench
// sets them large).
func BenchmarkRandomConvergence(b *testing.B) {
	seeds, ops := randomScale()
	for i := 0; i < b.N; i++ {
		for s := 0; s < seeds; s++ {
			randomRun(b, uint64(time.Now().UnixNano())+uint64(s), ops)
		}
	}
}
