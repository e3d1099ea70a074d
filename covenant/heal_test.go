package covenant_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/tasks"
)

// TestIndexDamageHeals damages the index 50 times at random (truncation at
// random offsets, random bytes over random pages, deletion) and after each
// requires every command to answer as on the undamaged index: never exit 2,
// never invalid JSON, never a wrong answer.
// healSeed is COVENANT_HEAL_SEED, read before TestMain cleans the environment.
var healSeed = os.Getenv("COVENANT_HEAL_SEED")

func TestIndexDamageHeals(t *testing.T) {
	f := newFixture(t)
	f.initAlice()
	r := f.open()
	for _, title := range []string{"alpha", "bravo", "charlie", "delta"} {
		if _, err := r.CreateTask(context.Background(), tasks.CreateBody{Title: title}); err != nil {
			t.Fatal(err)
		}
	}
	wantList := f.mustCLI("task", "list", "--json")
	var list []struct{ ID string }
	if err := json.Unmarshal([]byte(wantList), &list); err != nil {
		t.Fatal(err)
	}
	id := list[1].ID
	wantShow := f.mustCLI("task", "show", id, "--json")
	wantDigest := f.mustCLI("state", "digest")
	d, err := f.store().CovenantDir()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(d, "index.db")
	seed := uint64(time.Now().UnixNano())
	if n, err := strconv.ParseUint(healSeed, 10, 64); err == nil {
		seed = n // COVENANT_HEAL_SEED reruns a failed seed
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	healed := 0
	for i := 0; i < 50; i++ {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		how := ""
		switch rng.IntN(3) {
		case 0:
			n := rng.IntN(len(raw))
			how = "truncated at " + itoa(n)
			raw = raw[:n]
		case 1:
			page := 4096 * rng.IntN(max(1, len(raw)/4096))
			how = "random bytes over page at " + itoa(page)
			for j := page; j < min(len(raw), page+4096); j++ {
				raw[j] = byte(rng.IntN(256))
			}
		default:
			how = "deleted"
			raw = nil
		}
		if raw == nil {
			os.Remove(p)
		} else if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"task", "list", "--json"}, wantList},
			{[]string{"task", "show", id, "--json"}, wantShow},
			{[]string{"state", "digest"}, wantDigest},
		} {
			res := f.cli(c.args...)
			if res.code != 0 || res.stdout != c.want {
				t.Fatalf("round %d (index %s): %s: %s\nwant stdout:\n%s", i, how, strings.Join(c.args, " "), res, c.want)
			}
			if strings.Contains(res.stderr, "damaged") {
				healed++
			}
		}
		if res := f.cli("verify"); res.code != 0 {
			t.Fatalf("round %d (index %s): verify: %s", i, how, res)
		}
	}
	t.Logf("%d commands noticed the damage and healed", healed)
	if healed == 0 {
		t.Fatal("no command ever saw a damaged index: the test damaged nothing")
	}
	// A write after all that lands and is read back.
	if _, err := f.open().CreateTask(context.Background(), tasks.CreateBody{Title: "echo"}); err != nil {
		t.Fatal(err)
	}
	if got := titles(f.taskList()); !slices.Contains(got, "echo") || len(got) != 5 {
		t.Fatalf("after the damage: %v", got)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
