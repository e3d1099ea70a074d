package daemon_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/daemon"
	"github.com/git-covenant/git-covenant/tasks"
)

// TestDispatchLatencyReport measures, for `make bench` (docs/perf.md), the
// time from a task created by another handle (its feed ref moved) to the
// agent process running, against the floor of a `git update-ref` process
// timed in the same run. It asserts nothing about time and runs only when
// DAEMON_BENCH_RUNS is set (the number of tasks).
func TestDispatchLatencyReport(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("DAEMON_BENCH_RUNS"))
	if n <= 0 {
		t.Skip("set DAEMON_BENCH_RUNS=100 to measure")
	}
	f := newFixture(t)
	marker := filepath.Join(t.TempDir(), "started")
	agent := &daemon.Agent{Name: "quick", Identity: "bot", Labels: []string{"quick"}, Prompt: "none", Sandbox: "none", Env: []string{"PATH"},
		Argv: []string{"sh", "-c", "date +%s%N > " + marker + ".tmp && mv " + marker + ".tmp " + marker}}
	d, err := daemon.New(daemon.Options{Service: f.svc, Env: f.env(), Log: f.log, Poll: time.Hour, CheckpointEvery: -1,
		LoadAgents: func() ([]*daemon.Agent, error) { return []*daemon.Agent{agent}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	stop := f.start(d)
	defer stop()
	// The creator is another handle on the repository, as another process
	// would be (its own index session and writer lock).
	// It releases the writer lock after each call, as a `git covenant task
	// create` process does when it exits.
	other, err := covenant.Open(context.Background(), covenant.Options{Dir: f.dir, Getenv: f.getenv, Env: f.env(), As: "alice", IdleRelease: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	head := f.git("rev-parse", "HEAD")
	var lat, floor []time.Duration
	for i := range n {
		os.Remove(marker)
		// The floor: one git update-ref process, the ref write itself.
		t0 := time.Now()
		cmd := exec.Command("git", "update-ref", "refs/bench/floor", head)
		cmd.Dir, cmd.Env = f.dir, f.env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		floor = append(floor, time.Since(t0))

		tk, err := other.CreateTask(context.Background(), tasks.CreateBody{Title: fmt.Sprintf("quick %d", i), Labels: []string{"quick"}, Priority: "medium"})
		if err != nil {
			t.Fatal(err)
		}
		created := time.Now()
		var started time.Time
		waitFor(t, "the agent to start", func() bool {
			b, err := os.ReadFile(marker)
			if err != nil {
				return false
			}
			ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			started = time.Unix(0, ns)
			return err == nil
		})
		lat = append(lat, started.Sub(created))
		f.waitRuns(tk.ID, 1)
		waitFor(t, "the run to end", func() bool { return d.Status().Queue >= 0 && len(d.Status().Runs) == 0 })
	}
	pct := func(ds []time.Duration, p float64) time.Duration {
		s := append([]time.Duration(nil), ds...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[int(p*float64(len(s)-1))]
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Printf("| ref change -> agent started (%d tasks) | p50 %s | p99 %s | floor git update-ref p50 %s, p99 %s | beyond the floor p50 %s, p99 %s |\n",
		n, ms(pct(lat, .5)), ms(pct(lat, .99)), ms(pct(floor, .5)), ms(pct(floor, .99)),
		ms(pct(lat, .5)-pct(floor, .5)), ms(pct(lat, .99)-pct(floor, .99)))
}
