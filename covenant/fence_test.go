package covenant_test

import (
	"strings"
	"testing"
	"time"
)

// TestCodeCommitsFencedByEvidence: whether a code commit was made under a
// live lease is decided by the signed ops that name it, never by its
// committer date, which anyone sets. A commit the holder's handoff named
// stands although its clock said hours later; a commit made after the
// handoff and backdated into the lease is reported; someone who never held
// the lease resolves that with a signed acceptance, history unchanged.
func TestCodeCommitsFencedByEvidence(t *testing.T) {
	tm := newTeam(t, "task.claim", "task.handoff", "task.move")
	t0 := time.Now().UTC().Truncate(time.Second).Add(10 * time.Minute)
	at := func(d time.Duration) []string { return []string{"GIT_COVENANT_NOW=" + t0.Add(d).Format(time.RFC3339)} }
	id := strings.TrimSpace(tm.mustCLIEnv(at(0), "task", "create", "fenced"))
	tm.mustCLIEnv(at(0), "--as", "bob", "task", "start", id, "--ttl", "1h")
	commit := func(msg string, date time.Time) string {
		tm.t.Helper()
		d := []string{"GIT_COMMITTER_DATE=" + date.Format(time.RFC3339), "GIT_AUTHOR_DATE=" + date.Format(time.RFC3339)}
		tm.gitEnv(tm.dir, d, nil, "commit", "-q", "--allow-empty", "-m", msg, "-m", "Covenant-Task: "+id+"\nCovenant-Lease: 1")
		return tm.git("rev-parse", "HEAD")
	}
	// Honest work from a machine whose clock runs 3 hours fast.
	honest := commit("work under the lease", t0.Add(3*time.Hour))
	tm.mustCLIEnv(at(20*time.Minute), "--as", "bob", "task", "handoff", id, "--summary", "done for now")
	if res := tm.cliEnv(at(25*time.Minute), "verify"); res.code != 0 {
		t.Fatalf("a commit the holder's handoff named is reported for its date: %s", res)
	}
	// After the handoff ended the lease: backdated into it.
	late := commit("after the lease, backdated", t0.Add(15*time.Minute))
	res := tm.cliEnv(at(30*time.Minute), "verify")
	if res.code != 10 || !strings.Contains(res.stdout, "stale-lease-commit: commit "+late) || strings.Contains(res.stdout, honest) {
		t.Fatalf("verify: want exactly the backdated commit reported, got %s", res)
	}
	if !strings.Contains(res.stdout, "no op of its holder under it naming this commit") {
		t.Fatalf("reason: %s", res)
	}
	// bob held the lease: he cannot excuse his own commit.
	if r := tm.cliEnv(at(31*time.Minute), "--as", "bob", "task", "accept", id, late, "--reason", "mine"); r.code != 5 || !strings.Contains(r.stderr, "may not accept") {
		t.Fatalf("accept by the lease holder: %s", r)
	}
	tm.mustCLIEnv(at(32*time.Minute), "task", "accept", id, late, "--reason", "reviewed, same change")
	if res := tm.cliEnv(at(33*time.Minute), "verify"); res.code != 0 {
		t.Fatalf("after the acceptance: %s", res)
	}
	if res := tm.cliEnv(at(33*time.Minute), "verify", "--full"); res.code != 0 {
		t.Fatalf("verify --full after the acceptance: %s", res)
	}
	if tm.git("rev-parse", "HEAD") != late {
		t.Fatal("history moved")
	}
}

// TestCodeCommitUnderALiveLease: while the lease is live, an unnamed commit
// is not judged yet; once the lease has expired with nothing naming it, it
// is reported.
func TestCodeCommitUnderALiveLease(t *testing.T) {
	tm := newTeam(t, "task.claim")
	t0 := time.Now().UTC().Truncate(time.Second).Add(10 * time.Minute)
	at := func(d time.Duration) []string { return []string{"GIT_COVENANT_NOW=" + t0.Add(d).Format(time.RFC3339)} }
	id := strings.TrimSpace(tm.mustCLIEnv(at(0), "task", "create", "live"))
	tm.mustCLIEnv(at(0), "--as", "bob", "task", "start", id, "--ttl", "1h")
	tm.gitEnv(tm.dir, []string{"GIT_COMMITTER_DATE=" + t0.Add(time.Minute).Format(time.RFC3339)}, nil,
		"commit", "-q", "--allow-empty", "-m", "wip", "-m", "Covenant-Task: "+id+"\nCovenant-Lease: 1")
	c := tm.git("rev-parse", "HEAD")
	if res := tm.cliEnv(at(10*time.Minute), "verify"); res.code != 0 {
		t.Fatalf("a commit under a live lease is judged early: %s", res)
	}
	if res := tm.cliEnv(at(2*time.Hour), "verify"); res.code != 10 || !strings.Contains(res.stdout, c) {
		t.Fatalf("after the lease expired with nothing naming the commit: %s", res)
	}
}
