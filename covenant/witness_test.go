package covenant_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/attest/checkpoint"
	"github.com/git-covenant/git-covenant/gitstore"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tasks"
)

// These attacks backdate an op to before a lease or a grant expired; a
// checkpoint signed by a trust root that did not cover the op is the
// witness that it was made later (ADR 0010, Time witnesses). The ops are
// plumbing commits signed by ssh-keygen with the attacker's own key.

// rootCheckpoint has alice (a trust root) sign an attest.checkpoint over
// heads (key id -> commit) at time at, as her clone would if it had not
// received anything else: a witness that covers exactly those heads.
func (f *fixture) rootCheckpoint(heads map[string]string, at time.Time) string {
	f.t.Helper()
	var lines []string
	for k, c := range heads {
		lines = append(lines, k+" "+c)
	}
	sort.Strings(lines)
	op := mkOp(f.t, checkpoint.OpType, "", checkpoint.Body{Root: checkpoint.Root(lines), Ops: uint64(len(lines)), Heads: lines})
	op.Time = oplog.FormatTime(at)
	return f.forgeStock("alice", op, at)
}

// lowClock returns the Lamport clock just above the head of key's feed, so
// a forged op sorts before everything written since.
func (f *fixture) lowClock(key string) uint64 {
	f.t.Helper()
	op, _ := f.head(key)
	return op.Lamport + 1
}

func TestTimeWitnesses(t *testing.T) {
	// Later than the identities newTeam registers at the wall clock, so
	// the times below are the ops' own.
	t0 := time.Now().UTC().Truncate(time.Second).Add(10 * time.Minute)
	at := func(d time.Duration) []string { return []string{"GIT_COVENANT_NOW=" + t0.Add(d).Format(time.RFC3339)} }

	// A lease holder whose lease expired writes, later, a heartbeat dated
	// before the expiry. A root's checkpoint signed after the expiry, which
	// does not cover the heartbeat, shows it was not made in time: the
	// heartbeat is lease-expired and the lease stays expired. The
	// checkpoint arrives after the index folded the heartbeat, so the
	// index must fold again.
	t.Run("HeartbeatBackdatedBeforeAWitness", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.claim")
		id := strings.TrimSpace(tm.mustCLIEnv(at(0), "task", "create", "leased"))
		tm.mustCLIEnv(at(0), "--as", "bob", "task", "start", id, "--ttl", "1h")
		heads := tm.feeds()
		covered := map[string]string{}
		for _, ref := range heads {
			k := ref[strings.LastIndex(ref, "/")+1:]
			covered[k] = tm.git("rev-parse", ref)
		}
		hb := mkOp(t, tasks.OpHeartbeat, id, tasks.ClaimBody{TTLSeconds: 3600})
		hb.Epoch, hb.Lamport = 1, tm.lowClock(tm.bobKey)
		hb.Time = oplog.FormatTime(t0.Add(50 * time.Minute))
		c := tm.forgeStock("bob", hb, t0.Add(50*time.Minute))
		// With no witness, the heartbeat is taken at its word.
		if tk := tm.task(id); !tk.Lease.ExpiresAt.Equal(t0.Add(110 * time.Minute)) {
			t.Fatalf("without a witness the heartbeat should extend the lease: %+v", tk.Lease)
		}
		tm.rootCheckpoint(covered, t0.Add(2*time.Hour))
		tk := tm.task(id)
		if tk.Lease == nil || !tk.Lease.ExpiresAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("the backdated heartbeat still extends the lease after the witness: %+v", tk.Lease)
		}
		rep, err := verifyBoth(t, tm.open())
		if err != nil {
			t.Fatal(err)
		}
		fd := findFinding(t, rep.Findings, oplog.KindLeaseExpired, tm.bobKey, c)
		if !strings.Contains(fd.Reason, "time witness") || fd.Severity != "conflict" {
			t.Fatalf("finding %+v", fd)
		}
		// A backdated heartbeat cannot be told from one made offline that
		// reached no witness in time: a conflict, failing verify --strict.
		if res := tm.cli("verify", "--strict"); res.code != 10 || !strings.Contains(res.stdout, c) {
			t.Fatalf("verify --strict: %s", res)
		}
		tm.mustCLI("index", "rebuild")
		if tk := tm.task(id); !tk.Lease.ExpiresAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("after a rebuild: %+v", tk.Lease)
		}
	})

	// A grantee whose grant expired writes an op dated while it was live;
	// a root's checkpoint signed after the expiry did not cover it.
	t.Run("GrantBackdatedBeforeAWitness", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t)
		tm.mustCLIEnv(at(0), "cap", "grant", "bob", "task.create", "--expires", "1h")
		tm.mustCLIEnv(at(0), "--as", "bob", "task", "create", "in time")
		tm.mustCLIEnv(at(2*time.Hour), "attest", "audit-root")
		op := createOp(t, "backdated into the grant")
		op.Lamport = tm.lowClock(tm.bobKey)
		op.Time = oplog.FormatTime(t0.Add(30 * time.Minute))
		c := tm.forgeStock("bob", op, t0.Add(30*time.Minute))
		// As for leases, a conflict: an op made offline in time that
		// reached no witness before it looks the same.
		r := tm.caught(oplog.KindWitnessedLate, c, "--strict")
		if !strings.Contains(r, "expired") || !strings.Contains(r, "time witness") {
			t.Fatalf("reason %q", r)
		}
		if got := titles(tm.taskList()); len(got) != 1 || got[0] != "in time" {
			t.Fatalf("tasks %v", got)
		}
	})

	// Only a trust root's checkpoint is a witness: bob's own checkpoint,
	// covering nothing of alice's, changes nothing about her ops.
	t.Run("OnlyRootsWitness", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.claim")
		id := strings.TrimSpace(tm.mustCLIEnv(at(0), "task", "create", "leased"))
		tm.mustCLIEnv(at(0), "task", "start", id, "--ttl", "1h")
		tm.mustCLIEnv(at(50*time.Minute), "task", "heartbeat", id, "--ttl", "1h")
		// bob's checkpoint covers alice's feed only up to her genesis: were
		// it a witness, her heartbeat (dated before it) would be late.
		alice := tm.keyOf("alice")
		commits := tm.feedCommits(gitstore.FeedRef(alice))
		lines := []string{alice + " " + commits[0]}
		op := mkOp(t, checkpoint.OpType, "", checkpoint.Body{Root: checkpoint.Root(lines), Ops: 1, Heads: lines})
		op.Time = oplog.FormatTime(t0.Add(3 * time.Hour))
		tm.forgeStock("bob", op, t0.Add(3*time.Hour))
		if tk := tm.task(id); !tk.Lease.ExpiresAt.Equal(t0.Add(110 * time.Minute)) {
			t.Fatalf("a non-root checkpoint moved alice's lease: %+v", tk.Lease)
		}
		tm.verifyClean()
	})

	// Honest work around witnesses: a heartbeat made in time and covered
	// by a later checkpoint, and ops after it, all stand.
	t.Run("HonestWorkAroundWitnesses", func(t *testing.T) {
		t.Parallel()
		tm := newTeam(t, "task.claim", "task.create")
		tm.mustCLIEnv(at(0), "cap", "grant", "bob", "task.comment", "--expires", "2h")
		id := strings.TrimSpace(tm.mustCLIEnv(at(0), "--as", "bob", "task", "create", "bob's"))
		tm.mustCLIEnv(at(time.Minute), "--as", "bob", "task", "start", id, "--ttl", "1h")
		tm.mustCLIEnv(at(30*time.Minute), "attest", "audit-root")
		tm.mustCLIEnv(at(50*time.Minute), "--as", "bob", "task", "heartbeat", id, "--ttl", "1h")
		tm.mustCLIEnv(at(55*time.Minute), "attest", "audit-root")
		tm.mustCLIEnv(at(90*time.Minute), "--as", "bob", "task", "comment", id, "still mine")
		tm.mustCLIEnv(at(100*time.Minute), "attest", "audit-root")
		tk := tm.task(id)
		if tk.Lease == nil || !tk.Lease.ExpiresAt.Equal(t0.Add(110*time.Minute)) || len(tk.Comments) != 1 {
			t.Fatalf("honest work around witnesses: lease %+v, comments %d", tk.Lease, len(tk.Comments))
		}
		tm.verifyClean()
	})
}
