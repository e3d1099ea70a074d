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
)

// trustEnv holds the GIT_COVENANT_TRUST_* variables as the test process
// started with them: TestMain unsets every GIT_* variable before the
// tests run, and package variables are initialized before TestMain.
var trustEnv = map[string]string{
	"SEED":  os.Getenv("GIT_COVENANT_TRUST_SEED"),
	"SEEDS": os.Getenv("GIT_COVENANT_TRUST_SEEDS"),
	"OPS":   os.Getenv("GIT_COVENANT_TRUST_OPS"),
}

// trustScale is the size of the randomized trust test: the first seed,
// how many seeds and ops per seed. GIT_COVENANT_TRUST_SEED reruns a
// failed seed (the subtest name); GIT_COVENANT_TRUST_SEEDS / _OPS make
// the run larger.
func trustScale() (base uint64, seeds, ops int) {
	base, seeds, ops = uint64(time.Now().UnixNano()), 1, 24
	if n, err := strconv.ParseUint(trustEnv["SEED"], 10, 64); err == nil {
		base = n
	}
	if n, err := strconv.Atoi(trustEnv["SEEDS"]); err == nil && n > 0 {
		seeds = n
	}
	if n, err := strconv.Atoi(trustEnv["OPS"]); err == nil && n > 0 {
		ops = n
	}
	return base, seeds, ops
}

// TestRandomTrustConvergence: random honest histories on three clones
// sharing a file:// remote, with what the trust rules bound: key
// rotations, one revocation, grants that expire, leases that expire
// (the clock jumps), strong claims, heartbeats and releases, audit roots
// that become time witnesses, and random sync orders. Whatever happened,
// once every clone synced they fold the same state digest, and verify
// --full (which also holds each clone's index against its fold) finds no
// error anywhere: only conflicts, the same ones in every clone.
func TestRandomTrustConvergence(t *testing.T) {
	base, seeds, ops := trustScale()
	for s := 0; s < seeds; s++ {
		seed := base + uint64(s)
		t.Run(fmt.Sprint(seed), func(t *testing.T) { trustRun(t, seed, ops) })
	}
}

func trustRun(t testing.TB, seed uint64, ops int) {
	t.Logf("seed %d", seed)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	cl := newCluster(t, "file", "alice", "bob", "carol")
	clock := time.Now().UTC().Truncate(time.Second)
	for _, c := range cl.clones {
		c.now = func() time.Time { return clock }
	}
	alice := cl.clones[0]
	revoked := -1 // the clone whose identity was revoked; it acts no more
	var known []string
	fail := func(i int, what string, err error) {
		t.Helper()
		t.Fatalf("seed %d op %d: %s: %v", seed, i, what, err)
	}
	for i := 0; i < ops; i++ {
		clock = clock.Add(time.Duration(rng.IntN(25)) * time.Minute)
		n := rng.IntN(3)
		if n == revoked {
			n = 0
		}
		c := cl.clones[n]
		r := c.repo()
		pick := func() string {
			if len(known) == 0 {
				return ""
			}
			return known[rng.IntN(len(known))]
		}
		// Honest clients refuse what the rules refuse (lease held, grant
		// expired, ...): those errors are expected and write nothing.
		switch op := rng.IntN(16); {
		case op < 3:
			if tk, err := r.CreateTask(ctx, taskBody(fmt.Sprintf("%s %d", c.name, i))); err == nil {
				known = append(known, tk.ID)
			}
		case op < 5:
			if id := pick(); id != "" {
				r.StartTask(ctx, covenant.StartRequest{Task: id, TTL: time.Duration(10+rng.IntN(50)) * time.Minute})
			}
		case op < 6:
			if id := pick(); id != "" {
				// A strong claim: refused when another clone holds it.
				r.StartTask(ctx, covenant.StartRequest{Task: id, TTL: time.Duration(10+rng.IntN(50)) * time.Minute, Via: "origin"})
			}
		case op < 7:
			if id := pick(); id != "" {
				r.Heartbeat(ctx, covenant.LeaseRequest{Task: id, TTL: time.Duration(10+rng.IntN(50)) * time.Minute})
			}
		case op < 8:
			if id := pick(); id != "" {
				r.Release(ctx, id)
			}
		case op < 9:
			if id, other := pick(), pick(); id != "" && other != id {
				// Needs task.link, which only an expiring grant gives.
				r.LinkTasks(ctx, covenant.LinkRequest{Task: id, Kind: "relates-to", Other: other})
			}
		case op < 10:
			if id := pick(); id != "" {
				r.Comment(ctx, id, fmt.Sprintf("note %d", i))
			}
		case op < 11:
			// alice grants someone task.link for a while (not the revoked
			// identity: an honest client refuses that).
			v := 1 + rng.IntN(2)
			if v == revoked {
				v = 3 - v
			}
			to := cl.clones[v].name
			exp := clock.Add(time.Duration(5+rng.IntN(40)) * time.Minute)
			if _, err := alice.repo().GrantCapability(ctx, covenant.GrantRequest{To: to, Scopes: []string{"task.link"}, ExpiresAt: &exp}); err != nil {
				fail(i, "grant", err)
			}
		case op < 12:
			// An audit root: a time witness for every op it does not cover.
			if _, err := alice.repo().SignAuditRoot(ctx, nil); err != nil {
				fail(i, "audit root", err)
			}
		case op < 13:
			if n != 0 {
				if _, err := r.RotateIdentity(ctx, c.name, ""); err != nil {
					fail(i, c.name+" rotates", err)
				}
			}
		case op < 14:
			if revoked < 0 && i > ops/2 {
				// The revoked identity's clone stops first: everything it
				// wrote reaches alice before she revokes it.
				v := 1 + rng.IntN(2)
				cl.clones[v].sync()
				alice.sync()
				if err := alice.repo().RevokeIdentity(ctx, cl.clones[v].name, "retired"); err != nil {
					fail(i, "revoke", err)
				}
				revoked = v
			}
		default:
			rep, err := r.Sync(ctx, "origin")
			if err != nil {
				fail(i, c.name+" sync", err)
			}
			if !rep.OK() {
				t.Fatalf("seed %d op %d: %s sync findings: %v", seed, i, c.name, rep.Findings)
			}
			known = allTasks(t, r)
		}
	}
	// Past every lease and grant, so no clock decides anything below.
	clock = clock.Add(48 * time.Hour)
	cl.converge()
	cl.assertConverged()
	var want []ledger.Finding
	for i, c := range cl.clones {
		rep, err := c.repo().Verify(ctx, covenant.VerifyOptions{Full: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rep.Findings {
			if f.Severity != "conflict" {
				t.Fatalf("seed %d: %s: verify found an error in an honest history: %v", seed, c.name, f)
			}
		}
		if i == 0 {
			want = rep.Findings
		} else if fmt.Sprint(rep.Findings) != fmt.Sprint(want) {
			t.Fatalf("seed %d: %s verify findings differ:\n%v\nwant:\n%v", seed, c.name, rep.Findings, want)
		}
		if res := c.cli("verify"); res.code != 0 {
			t.Fatalf("seed %d: %s: verify: %s", seed, c.name, res)
		}
	}
	t.Logf("seed %d: %d conflicts (lost races), revoked clone %d", seed, len(want), revoked)
}
