// Command workbench measures the workflow and trust figures of `make bench`:
// `task ready --json` and `task show` as whole processes over a repository
// of many tasks and blocking links (warm index), full verification
// throughput against the bound of raw ed25519 verification on the same
// cores, and incremental verification of 10 new ops. Every figure is printed
// next to a floor measured in the same run.
package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/internal/bench"
	"github.com/git-covenant/git-covenant/tasks"
)

func main() {
	bin := flag.String("bin", "bin/git-covenant", "git-covenant binary")
	flag.BoolVar(&keep, "keep", false, "generate the repository, keep it, print its directory and HOME, and stop (for profiling)")
	flag.Parse()
	if err := run(*bin); err != nil {
		fmt.Fprintln(os.Stderr, "workbench:", err)
		os.Exit(1)
	}
}

var keep bool

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "workbench: "+format+"\n", args...) }

func run(binPath string) error {
	n := bench.EnvInt("BENCH_TASKS", 100000)
	links := bench.EnvInt("BENCH_LINKS", n/2)
	runs := bench.EnvInt("BENCH_RUNS", 20)
	bin, err := filepath.Abs(binPath)
	if err != nil {
		return err
	}
	tmp, dir, r, cleanup, err := bench.Workspace("git-covenant-workbench-")
	if err != nil {
		return err
	}
	if !keep {
		defer cleanup()
	}
	start := time.Now()
	w := &bench.CovenantWriter{Service: r}
	for left := n; left > 0; left -= 1000 {
		if err := w.Write(min(left, 1000)); err != nil {
			return err
		}
		if (n-left)%20000 == 0 {
			logf("%d/%d tasks (%s)", n-left, n, time.Since(start).Round(time.Second))
		}
	}
	ids, err := taskIDs(r)
	if err != nil {
		return err
	}
	// Blocking links between disjoint pairs: task 2k blocks task 2k+1.
	for done := 0; done < links; {
		batch := min(1000, links-done)
		ds := make([]covenant.Draft, batch)
		for i := range ds {
			k := done + i
			ds[i] = covenant.Draft{Type: tasks.OpLink, Task: ids[2*k%len(ids)], Body: tasks.LinkBody{Kind: "blocks", Other: ids[(2*k+1)%len(ids)]}}
		}
		_, err := r.Append(context.Background(), ds)
		if err != nil {
			return err
		}
		done += batch
	}
	logf("%d tasks and %d links generated in %s", n, links, time.Since(start).Round(time.Second))
	if _, err := bench.Git(dir, "repack", "-adq"); err != nil {
		return err
	}
	if keep {
		fmt.Printf("cd %s && HOME=%s\n", dir, filepath.Join(tmp, "home"))
		return nil
	}

	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	timeIt := func(args []string, out *os.File) (bench.Stats, error) {
		p := bench.Proc{Dir: dir, Args: args, Stdout: out}
		if _, err := p.Time(); err != nil { // warm
			return bench.Stats{}, err
		}
		var ds []time.Duration
		for i := 0; i < runs; i++ {
			d, err := p.Time()
			if err != nil {
				return bench.Stats{}, err
			}
			ds = append(ds, d)
		}
		return bench.Summarize(ds), nil
	}
	readyOut := filepath.Join(tmp, "ready.json")
	f, err := os.Create(readyOut)
	if err != nil {
		return err
	}
	if _, err := (bench.Proc{Dir: dir, Args: []string{bin, "task", "ready", "--json"}, Stdout: f}).Time(); err != nil {
		return err
	}
	f.Close()
	fi, _ := os.Stat(readyOut)
	ready, err := timeIt([]string{bin, "task", "ready", "--json"}, devnull)
	if err != nil {
		return err
	}
	catReady, err := timeIt([]string{"cat", readyOut}, devnull)
	if err != nil {
		return err
	}
	show, err := timeIt([]string{bin, "task", "show", ids[len(ids)/2+1]}, devnull)
	if err != nil {
		return err
	}
	revParse, err := timeIt([]string{"git", "rev-parse", "HEAD"}, devnull)
	if err != nil {
		return err
	}

	// Full verification throughput against raw ed25519 on the same cores.
	rep, err := r.Verify(context.Background(), covenant.VerifyOptions{Full: true})
	if err != nil || !rep.OK() {
		return fmt.Errorf("verify: %v %+v", err, rep)
	}
	var full []time.Duration
	var bounds []float64
	for i := 0; i < 3; i++ {
		d, err := (bench.Proc{Dir: dir, Args: []string{bin, "verify", "--full"}, Stdout: devnull}).Time()
		if err != nil {
			return err
		}
		full = append(full, d)
		bounds = append(bounds, ed25519Bound(rep.Ops))
	}
	fullS := bench.Summarize(full)
	throughput := float64(rep.Ops) / fullS.Median.Seconds()
	bound := bench.MedianFloat(bounds)

	// Incremental verification of 10 new ops that arrive by plain git (as
	// after a fetch), after a clean verify: the verifier's index must check
	// and fold exactly those.
	if _, err := (bench.Proc{Dir: dir, Args: []string{bin, "verify"}, Stdout: devnull}).Time(); err != nil {
		return err
	}
	other := filepath.Join(tmp, "other")
	if _, err := bench.Git(tmp, "clone", "-q", dir, other); err != nil {
		return err
	}
	if _, err := bench.Git(other, "fetch", "-q", "origin", "refs/covenant/*:refs/covenant/*"); err != nil {
		return err
	}
	ro, err := bench.Open(other)
	if err != nil {
		return err
	}
	var inc []time.Duration
	for i := 0; i < 5; i++ {
		ds := make([]covenant.Draft, 10)
		for j := range ds {
			ds[j] = bench.CreateDraft(n + 10*i + j)
		}
		if _, err := ro.Append(context.Background(), ds); err != nil {
			return err
		}
		if _, err := bench.Git(dir, "fetch", "-q", other, "refs/covenant/feeds/*:refs/covenant/feeds/*"); err != nil {
			return err
		}
		d, err := (bench.Proc{Dir: dir, Args: []string{bin, "verify"}, Stdout: devnull}).Time()
		if err != nil {
			return err
		}
		inc = append(inc, d)
	}
	incS := bench.Summarize(inc)

	fmt.Printf("\n## Workflow and trust (`go run ./internal/workbench`, BENCH_TASKS=%d, BENCH_LINKS=%d)\n\n", n, links)
	fmt.Println("| figure | target | measured | floor | floor measured | ratio | met? |")
	fmt.Println("|---|---|---|---|---|---|---|")
	row := func(name, target string, got bench.Stats, floorName string, floor bench.Stats, ok bool) {
		fmt.Printf("| %s | %s | %s (median of %d, min %s) | %s | %s | %.2fx | %s |\n", name, target, ms(got.Median), got.N, ms(got.Min),
			floorName, ms(floor.Median), float64(got.Median)/float64(floor.Median), met(ok))
	}
	row(fmt.Sprintf("`task ready --json`, %d tasks, %d links, warm", n, links), "< 50 ms", ready,
		fmt.Sprintf("`cat` of the same %.1f MiB output", float64(fi.Size())/(1<<20)), catReady, ready.Median < 50*time.Millisecond)
	row("`task show <id>`, warm", "< 30 ms", show, "`git rev-parse HEAD` (process start)", revParse, show.Median < 30*time.Millisecond)
	fmt.Printf("| `verify --full`, %d ops | >= 60%% of raw ed25519 | %.0f ops/s (%s per run, median of 3) | raw ed25519.Verify on %d cores | %.0f ops/s | %.0f%% | %s |\n",
		rep.Ops, throughput, fullS.Median.Round(time.Millisecond), runtime.GOMAXPROCS(0), bound, 100*throughput/bound, met(throughput >= 0.6*bound))
	row("incremental `verify` after 10 new ops fetched by plain git", "< 100 ms", incS, "`git rev-parse HEAD` (process start)", revParse, incS.Median < 100*time.Millisecond)
	fmt.Println()
	return nil
}

// ed25519Bound is raw ed25519 verifications per second over n signatures
// on all cores.
func ed25519Bound(n int) float64 {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := []byte(strings.Repeat("x", 300))
	sig := ed25519.Sign(priv, msg)
	workers := runtime.GOMAXPROCS(0)
	per := n / workers
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				ed25519.Verify(pub, msg, sig)
			}
		}()
	}
	wg.Wait()
	return float64(per*workers) / time.Since(start).Seconds()
}

func taskIDs(r *covenant.Service) ([]string, error) {
	var ids []string
	err := r.EachTask(context.Background(), false, func(raw []byte, _ *tasks.Summary) error {
		i := strings.Index(string(raw), `"id":"`)
		ids = append(ids, string(raw[i+6:i+6+15]))
		return nil
	})
	return ids, err
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
