package covenant_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/oplog"
)

// TestConcurrentWriters runs 8 OS processes at once, each creating 100
// tasks in one repository, half as alice (trust root) and half as bob
// (registered by alice). No write may be lost or duplicated, and the
// result must verify, pass git fsck --strict and keep every feed linear.
func TestConcurrentWriters(t *testing.T) {
	const workers, perWorker = 8, 100
	f := newFixture(t)
	f.initAlice()
	f.mustCLI("id", "new", "bob", "--role", "agent")
	f.mustCLI("id", "register", "bob", "--role", "agent", "--key", filepath.Join(f.home, "identities", "bob", "key.pub"), "--grant", "task.create")

	var wg sync.WaitGroup
	errs := make(chan string, workers*perWorker)
	for w := 0; w < workers; w++ {
		as := "alice"
		if w%2 == 1 {
			as = "bob"
		}
		wg.Add(1)
		go func(w int, as string) {
			defer wg.Done()
			env := f.env("GIT_COVENANT_AS=" + as)
			for i := 0; i < perWorker; i++ {
				res := runIn(t, f.dir, env, "task", "create", fmt.Sprintf("w%d-%03d", w, i))
				if res.code != 0 {
					errs <- fmt.Sprintf("worker %d (%s) op %d: %s", w, as, i, res)
				}
			}
		}(w, as)
	}
	wg.Wait()
	close(errs)
	n := 0
	for e := range errs {
		if n < 5 {
			t.Error(e)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("%d of %d writes failed", n, workers*perWorker)
	}

	// Exactly the 800 tasks written, each once.
	got := f.taskList()
	if len(got) != workers*perWorker {
		t.Fatalf("task list has %d tasks, want %d", len(got), workers*perWorker)
	}
	seen := map[string]bool{}
	ids := map[string]bool{}
	for _, tk := range got {
		if seen[tk.Title] || ids[tk.ID] {
			t.Fatalf("task %s %q listed twice", tk.ID, tk.Title)
		}
		seen[tk.Title], ids[tk.ID] = true, true
	}
	for w := 0; w < workers; w++ {
		for i := 0; i < perWorker; i++ {
			if title := fmt.Sprintf("w%d-%03d", w, i); !seen[title] {
				t.Fatalf("task %q is missing", title)
			}
		}
	}

	// verify: exit 0, every op applied; alice's feed holds genesis, the
	// registration of bob and 400 creates, bob's genesis and 400 creates.
	res := f.cli("verify", "--json")
	if res.code != 0 {
		t.Fatalf("git covenant verify: %s", res)
	}
	var rep covenant.VerifyReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	const wantOps = workers*perWorker + 4 // + 2 genesis, bob's registration and grant
	if rep.Feeds != 2 || rep.Commits != wantOps || rep.Ops != wantOps || rep.Applied != wantOps || len(rep.Findings) != 0 {
		t.Fatalf("verify report %+v, want 2 feeds and %d ops all applied", rep, wantOps)
	}

	// Verifications take no lock and may run at once; each must succeed.
	vfails := make(chan string, 6*4)
	for p := 0; p < 6; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 4; round++ {
				if res := runIn(t, f.dir, f.env(), "verify"); res.code != 0 {
					vfails <- res.String()
				}
			}
		}()
	}
	wg.Wait()
	close(vfails)
	for e := range vfails {
		t.Errorf("concurrent verify: %s", e)
	}
	if tmps, _ := filepath.Glob(filepath.Join(f.dir, ".git", "covenant", "*.tmp")); len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}

	f.fsck()

	// Every feed is linear: no merges, and seq n sits at depth n.
	feeds := f.feeds()
	if len(feeds) != 2 {
		t.Fatalf("feeds = %v", feeds)
	}
	total := 0
	for key, ref := range feeds {
		if merges := f.git("rev-list", "--min-parents=2", ref); merges != "" {
			t.Fatalf("feed %s has merge commits: %s", key, merges)
		}
		commits := f.feedCommits(ref)
		if all := strings.Fields(f.git("rev-list", ref)); len(all) != len(commits) {
			t.Fatalf("feed %s: %d commits reachable but %d on the first-parent chain", key, len(all), len(commits))
		}
		st := f.store()
		for i, c := range commits {
			fc, err := st.ReadFeedCommit(mustHash(t, c))
			if err != nil {
				t.Fatal(err)
			}
			op, err := oplog.Decode(fc.Op)
			if err != nil || op.Seq != uint64(i+1) || op.Actor != key {
				t.Fatalf("feed %s: commit %d holds %+v (%v)", key, i+1, op, err)
			}
		}
		total += len(commits)
	}
	if total != wantOps {
		t.Fatalf("feeds hold %d commits, want %d", total, wantOps)
	}
	if locks := f.lockFiles(); len(locks) != 0 {
		t.Fatalf("lock files left behind: %v", locks)
	}
	t.Logf("%d processes x %d creates: %s ops in 2 feeds", workers, perWorker, strconv.Itoa(total))
}
