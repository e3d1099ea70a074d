package remote_test

import (
	"strings"
	"testing"
	"time"
)

// TestFutureOpsHeldBack: a clone whose ops are dated three hours ahead
// (its clock, or a modified client choosing the time) claims a task whose
// lease another clone holds. Receivers hold the claim back at sync (and
// report it), keep the live lease and go on working; once their clock
// passes the claim's time it is folded like any op, nothing lost.
func TestFutureOpsHeldBack(t *testing.T) {
	cl := newCluster(t, "file", "alice", "bob")
	alice, bob := cl.clones[0], cl.clones[1]
	id := alice.create("contended")
	alice.sync()
	bob.sync()
	bob.mustCLI("task", "start", id, "--ttl", "1h")
	bob.sync()

	ahead := time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)
	alice.sync()
	res := run(alice.dir, alice.env("GIT_COVENANT_NOW="+ahead), binPath, "task", "start", id)
	if res.code != 0 {
		t.Fatalf("alice's claim dated ahead: %s", res)
	}
	alice.sync()

	rep := bob.sync()
	if len(rep.Held) != 1 || rep.Held[0].Op != "task.claim" || !strings.Contains(rep.Held[0].Reason, "held back") {
		t.Fatalf("held: %+v", rep.Held)
	}
	if tk := bob.task(id); tk.Lease == nil || tk.Lease.Holder != "bob" {
		t.Fatalf("bob's live lease taken by a claim dated ahead: %+v", tk.Lease)
	}
	out := bob.mustCLI("sync")
	if !strings.Contains(out, "Held back:") {
		t.Fatalf("sync output does not report the held op:\n%s", out)
	}
	bob.mustCLI("task", "heartbeat", id)
	bob.mustCLI("verify")

	// Later, the clock has passed the claim's time: it is folded.
	bob.now = func() time.Time { return time.Now().Add(3*time.Hour + time.Minute) }
	rep = bob.sync()
	if len(rep.Held) != 0 || len(rep.Received) == 0 {
		t.Fatalf("after the clock passed: held %+v, received %+v", rep.Held, rep.Received)
	}
}
