// Command syncbench is the sync section of `make bench`: whole
// `git covenant sync` runs against a bare remote on the local disk, next to
// `git fetch` of the same remote in the same run, printed as Markdown.
//
//	go run ./internal/syncbench -bin bin/git-covenant [-ops 10000] [-runs 20]
//
// Figures:
//   - sync of -ops new ops (one actor, one op per commit) into a fresh
//     clone: fetch, verification of every commit (signature, shape,
//     canonical op, sequence, Lamport order), the fold, the index;
//     against `git fetch` of the same refs into a fresh clone;
//   - the no-op sync when nothing changed, against a plain `git fetch` of
//     the same remote (target: within 1.5x).
//
// It asserts nothing about time.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/internal/bench"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func must(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "syncbench: %v\n", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "syncbench: "+format+"\n", args...) }

func main() {
	binFlag := flag.String("bin", "bin/git-covenant", "git-covenant binary to time")
	ops := flag.Int("ops", envInt("BENCH_SYNC_OPS", 10000), "new ops the first figure syncs (env BENCH_SYNC_OPS)")
	runs := flag.Int("runs", envInt("BENCH_RUNS", 20), "runs of each no-op command (env BENCH_RUNS)")
	fulls := flag.Int("full-runs", envInt("BENCH_SYNC_RUNS", 3), "fresh clones synced for the first figure (env BENCH_SYNC_RUNS)")
	flag.Parse()
	bin, err := filepath.Abs(*binFlag)
	must(err)
	tmp, err := os.MkdirTemp("", "git-covenant-syncbench-")
	must(err)
	if os.Getenv("BENCH_KEEP") == "" {
		defer os.RemoveAll(tmp)
	} else {
		defer logf("kept %s (BENCH_KEEP)", tmp)
	}
	must(bench.Isolate(filepath.Join(tmp, "home"), os.Setenv))
	must(os.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH")))

	// A remote holding ops new ops in one feed.
	remote := filepath.Join(tmp, "remote.git")
	_, err = bench.Git(tmp, "init", "-q", "--bare", "-b", "main", remote)
	must(err)
	src := filepath.Join(tmp, "src")
	r, err := bench.NewCovenantRepo(src)
	must(err)
	_, err = bench.Git(src, "remote", "add", "origin", remote)
	must(err)
	_, err = bench.Git(src, "push", "-q", "origin", "main")
	must(err)
	logf("writing %d ops", *ops)
	for done := 0; done < *ops; done += 500 {
		n := min(500, *ops-done)
		ds := make([]covenant.Draft, n)
		for i := range ds {
			ds[i] = bench.CreateDraft(done + i)
		}
		_, err := r.Append(context.Background(), ds)
		must(err)
	}
	_, err = bench.Git(src, "push", "-q", "origin", "refs/covenant/feeds/*:refs/covenant/feeds/*")
	must(err)

	// Figure A: a fresh clone syncs every op; floor: git fetch of the same refs.
	var syncs, fetches []time.Duration
	for i := 0; i < *fulls; i++ {
		dir := filepath.Join(tmp, "fresh-"+strconv.Itoa(i))
		_, err := bench.Git(tmp, "clone", "-q", remote, dir)
		must(err)
		floorDir := filepath.Join(tmp, "floor-"+strconv.Itoa(i))
		_, err = bench.Git(tmp, "clone", "-q", remote, floorDir)
		must(err)
		d, err := bench.Proc{Dir: floorDir, Args: []string{"git", "fetch", "-q", "origin", "+refs/covenant/feeds/*:refs/covenant/incoming/origin/feeds/*"}}.Time()
		must(err)
		fetches = append(fetches, d)
		d, err = bench.Proc{Dir: dir, Args: []string{bin, "sync"}}.Time()
		must(err)
		syncs = append(syncs, d)
	}
	full, floor := bench.Summarize(syncs), bench.Summarize(fetches)

	// Figure B: no-op sync against plain git fetch of the same remote (with
	// the refspecs remote setup adds, so both ask for the same refs).
	dir := filepath.Join(tmp, "fresh-0")
	_, err = bench.Proc{Dir: dir, Args: []string{bin, "remote", "setup"}}.Time()
	must(err)
	var noops, plain []time.Duration
	for i := 0; i < *runs; i++ {
		d, err := bench.Proc{Dir: dir, Args: []string{"git", "fetch", "-q", "origin"}}.Time()
		must(err)
		plain = append(plain, d)
		d, err = bench.Proc{Dir: dir, Args: []string{bin, "sync"}}.Time()
		must(err)
		noops = append(noops, d)
	}
	noop, fetch := bench.Summarize(noops), bench.Summarize(plain)

	ratio := func(a, b time.Duration) string { return fmt.Sprintf("%.2fx", float64(a)/float64(b)) }
	fmt.Printf("### Sync (`go run ./internal/syncbench`, %d ops, medians)\n\n", *ops)
	fmt.Println("| figure | git-covenant | floor | ratio |")
	fmt.Println("| --- | --- | --- | --- |")
	fmt.Printf("| sync of %d new ops into a fresh clone, verified and folded (%d runs) | %s | `git fetch` of the same feeds %s | %s |\n",
		*ops, *fulls, full.Median.Round(time.Millisecond), floor.Median.Round(time.Millisecond), ratio(full.Median, floor.Median))
	fmt.Printf("| no-op sync, nothing changed (%d runs) | %s | plain `git fetch origin` %s | %s (target 1.5x) |\n",
		*runs, noop.Median.Round(100*time.Microsecond), fetch.Median.Round(100*time.Microsecond), ratio(noop.Median, fetch.Median))
	fmt.Printf("\nPer op, the full sync costs %s.\n", (full.Median / time.Duration(*ops)).Round(time.Microsecond))
}
