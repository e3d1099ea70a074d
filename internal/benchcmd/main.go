// Command benchcmd is `make bench`: it measures git-covenant against floors
// measured in the same run doing the same work with raw go-git or the git
// binary, and prints a Markdown report (see docs/perf.md).
//
//	go run ./internal/benchcmd -bin bin/git-covenant [-tasks 100000] [-writes 2000] [-runs 20] [-only 1|2c]
//
// -only (env BENCH_ONLY) runs one part: "1" the in-process write figure
// (on disk and tmpfs), "2c" the `task create` process on the large
// repository against `git commit --allow-empty` (it still generates and
// repacks the large repository, but skips the other read and rebuild
// figures).
//
// Everything it creates lives in a temporary directory that is removed at
// the end (unless -keep). It asserts nothing about time; it reports.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/internal/bench"
	"github.com/git-covenant/git-covenant/tasks"
)

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
		fmt.Fprintf(os.Stderr, "benchcmd: ignoring %s=%q (want a positive integer)\n", name, v)
	}
	return def
}

type config struct {
	bin      string
	tasks    int
	writes   int
	runs     int
	rebuilds int
	creates  int
	only     string
	keep     bool
}

// row is one line of the report.
type row struct {
	figure, target string
	measured       time.Duration
	floorName      string
	floor          time.Duration
	met            string // "met", "missed" or "—"
	note           string
}

func (r row) ratio() string {
	if r.floor <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2fx", float64(r.measured)/float64(r.floor))
}

type report struct {
	rows  []row
	notes []string
}

func (rp *report) add(r row)                   { rp.rows = append(rp.rows, r) }
func (rp *report) notef(f string, args ...any) { rp.notes = append(rp.notes, fmt.Sprintf(f, args...)) }
func logf(format string, args ...any)          { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }
func must(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchcmd: %v\n", err)
		os.Exit(1)
	}
}

func main() {
	cfg := config{}
	flag.StringVar(&cfg.bin, "bin", "bin/git-covenant", "git-covenant binary to time as a process")
	flag.IntVar(&cfg.tasks, "tasks", envInt("BENCH_TASKS", 100000), "tasks in the large repository (env BENCH_TASKS)")
	flag.IntVar(&cfg.writes, "writes", envInt("BENCH_WRITES", 2000), "single-op writes per writer for figure 1 (env BENCH_WRITES)")
	flag.IntVar(&cfg.runs, "runs", envInt("BENCH_RUNS", 20), "process runs per command for figure 2 (env BENCH_RUNS)")
	flag.IntVar(&cfg.rebuilds, "rebuilds", envInt("BENCH_REBUILDS", 3), "index rebuild runs for figure 3 (env BENCH_REBUILDS)")
	flag.IntVar(&cfg.creates, "creates", envInt("BENCH_CREATES", 5), "task create processes timed for figure 2c (env BENCH_CREATES)")
	flag.StringVar(&cfg.only, "only", os.Getenv("BENCH_ONLY"), `run one part only: "1" or "2c" (env BENCH_ONLY)`)
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory")
	flag.Parse()
	if cfg.only != "" && cfg.only != "1" && cfg.only != "2c" {
		must(fmt.Errorf("-only %q: want 1 or 2c", cfg.only))
	}
	bin, err := filepath.Abs(cfg.bin)
	must(err)
	if _, err := os.Stat(bin); err != nil {
		must(fmt.Errorf("%v (run make build first)", err))
	}
	cfg.bin = bin

	tmp, err := os.MkdirTemp("", "git-covenant-bench-")
	must(err)
	if cfg.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	must(bench.Isolate(filepath.Join(tmp, "home"), os.Setenv))
	// `git covenant` must find this build first.
	must(os.Setenv("PATH", filepath.Dir(cfg.bin)+string(os.PathListSeparator)+os.Getenv("PATH")))

	start := time.Now()
	rp := &report{}
	rp.notef("file creation on this disk: %s per new file (mean of 500 creates in the bench directory); every op write creates 3 (floor) or 4 (git-covenant: + the ref's .lock) files", fmtDur(createCost(filepath.Join(tmp, "create"), 500)))
	if cfg.only != "2c" {
		figure1(cfg, tmp, "", rp)
		// The same figure with repositories on tmpfs, where creating a file is
		// cheap, shows the ratio without this disk's file-creation cost.
		if shm, err := os.MkdirTemp("/dev/shm", "git-covenant-bench-"); err == nil && os.Getenv("BENCH_TMPFS") != "0" {
			rp.notef("file creation on tmpfs (/dev/shm): %s per new file", fmtDur(createCost(filepath.Join(shm, "create"), 500)))
			figure1(cfg, shm, " (tmpfs)", rp)
			os.RemoveAll(shm)
		}
	}
	if cfg.only != "1" {
		figure23(cfg, tmp, rp)
	}
	rp.notef("total bench time %s", time.Since(start).Round(time.Second))
	printReport(os.Stdout, cfg, rp)
}

// createCost measures creating (and closing) a new empty file.
func createCost(dir string, n int) time.Duration {
	must(os.MkdirAll(dir, 0o755))
	defer os.RemoveAll(dir)
	t := time.Now()
	for i := 0; i < n; i++ {
		f, err := os.OpenFile(filepath.Join(dir, "f"+strconv.Itoa(i)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		must(err)
		f.Close()
	}
	return time.Since(t) / time.Duration(n)
}

// figure1: one op per write, amortized over cfg.writes writes per writer,
// the three writers interleaved in rounds so machine noise hits all alike.
func figure1(cfg config, tmp, label string, rp *report) {
	logf("figure 1%s: %d single-op writes per writer", label, cfg.writes)
	r, err := bench.NewCovenantRepo(filepath.Join(tmp, "f1-covenant"))
	must(err)
	must(bench.InitGit(filepath.Join(tmp, "f1-signed")))
	must(bench.InitGit(filepath.Join(tmp, "f1-floor")))
	signed, err := bench.NewSignedWriter(filepath.Join(tmp, "f1-signed"))
	must(err)
	id, err := r.Actor("")
	must(err)
	writers := []bench.Writer{
		&bench.CovenantWriter{Service: r},
		signed,
		bench.NewFloorWriter(filepath.Join(tmp, "f1-floor"), id.KeyID),
	}
	const chunk = 20
	for _, w := range writers { // warm up: first writes create object directories
		for i := 0; i < chunk; i++ {
			must(w.Write(1))
		}
	}
	rounds := max(1, cfg.writes/chunk)
	totals := make([]time.Duration, len(writers))
	perRound := make([][]time.Duration, len(writers)) // per-op time of each round
	var ratios []float64
	for round := 0; round < rounds; round++ {
		per := make([]time.Duration, len(writers))
		for k := range writers {
			i := (k + round) % len(writers)
			t := time.Now()
			for j := 0; j < chunk; j++ {
				must(writers[i].Write(1))
			}
			per[i] = time.Since(t)
			totals[i] += per[i]
			perRound[i] = append(perRound[i], per[i]/chunk)
		}
		ratios = append(ratios, float64(per[0])/float64(per[2]))
	}
	n := time.Duration(rounds * chunk)
	cov, sig, floor := totals[0]/n, totals[1]/n, totals[2]/n
	within := func(a, b time.Duration) string {
		if float64(a) <= 1.3*float64(b) {
			return "met"
		}
		return "missed"
	}
	floorName := "go-git storer: blob+tree+unsigned commit, CheckAndSetReference"
	rp.add(row{figure: "1" + label + ". op write, in-process: one long-lived covenant.Service, Append of 1 task.create", target: "≤ 1.3x floor",
		measured: cov, floorName: floorName, floor: floor, met: within(cov, floor),
		note: fmt.Sprintf("mean of %d writes each, interleaved in %d rounds of %d", rounds*chunk, rounds, chunk)})
	covMed, floorMed := bench.Summarize(perRound[0]).Median, bench.Summarize(perRound[2]).Median
	rp.add(row{figure: "1" + label + ". same, typical round", target: "≤ 1.3x floor",
		measured: covMed, floorName: floorName, floor: floorMed, met: within(covMed, floorMed),
		note: fmt.Sprintf("median per-op time over the %d rounds; median of per-round ratios %.2fx", rounds, bench.MedianFloat(ratios))})
	rp.add(row{figure: "1a" + label + ". signed commit only (BuildFeedCommits + UpdateRef)", target: "—",
		measured: sig, floorName: floorName, floor: floor, met: "—", note: "same objects, signed, git's <ref>.lock protocol; no keystore, lock, index or fold"})
	rp.add(row{figure: "1b" + label + ". covenant Append minus signed-commit-only", target: "—",
		measured: cov - sig, met: "—", note: "feed-heads check, body check, fold, bbolt commit (signer, flock and index held across writes)"})
}

// figure23 builds the large repository, then times reads (figure 2) and
// the cold rebuild (figure 3).
func figure23(cfg config, tmp string, rp *report) {
	dir := filepath.Join(tmp, "big")
	r, err := bench.NewCovenantRepo(dir)
	must(err)
	w := &bench.CovenantWriter{Service: r}
	logf("figure 2: generating %d tasks in batches of 1000", cfg.tasks)
	t := time.Now()
	for left := cfg.tasks; left > 0; {
		n := min(left, 1000)
		must(w.Write(n))
		left -= n
		if done := cfg.tasks - left; done%10000 == 0 || left == 0 {
			logf("  %d/%d tasks (%s)", done, cfg.tasks, time.Since(t).Round(time.Second))
		}
	}
	gen := time.Since(t)
	rp.notef("generated %d tasks through covenant.Service.Append in batches of 1000 drafts: %s (%s per op)", cfg.tasks, gen.Round(time.Second), fmtDur(gen/time.Duration(cfg.tasks)))

	id, err := r.Actor("")
	must(err)
	feedRef := "refs/covenant/feeds/" + id.KeyID
	// Tasks are seqs 2..tasks+1 (seq 1 is the genesis op); take the middle one.
	taskID := tasks.NewID(id.KeyID, uint64(cfg.tasks/2+2))
	task, err := r.Task(context.Background(), taskID)
	must(err)
	// The timed processes below must not wait for this handle's lock.
	must(r.Close())
	blob, err := bench.Git(dir, "rev-parse", task.History[0].Op+":op.json")
	must(err)

	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	must(err)
	defer devnull.Close()

	// A rebuild on loose objects, before packing, to show what packing buys.
	var looseRebuild time.Duration
	if cfg.only == "" {
		logf("figure 3: one rebuild on loose objects")
		looseRebuild, err = bench.Proc{Dir: dir, Args: []string{cfg.bin, "index", "rebuild"}, Stdout: devnull}.Time()
		must(err)
	}

	logf("git repack -ad")
	t = time.Now()
	_, err = bench.Git(dir, "repack", "-adq")
	must(err)
	repack := time.Since(t)
	objs, _ := bench.Git(dir, "count-objects", "-v")
	rp.notef("`git repack -ad` took %s; after it: %s", repack.Round(time.Second), strings.ReplaceAll(objs, "\n", ", "))

	// Warm the index and page cache, and keep the list output for the cat floor.
	listFile := filepath.Join(tmp, "list.json")
	lf, err := os.Create(listFile)
	must(err)
	_, err = bench.Proc{Dir: dir, Args: []string{cfg.bin, "task", "list", "--json"}, Stdout: lf}.Time()
	lf.Close()
	must(err)
	fi, err := os.Stat(listFile)
	must(err)
	rp.notef("`task list --json` output: %d bytes (%d tasks); `task show` shows %s", fi.Size(), cfg.tasks, taskID)

	type probe struct {
		name string
		run  func() (time.Duration, error)
	}
	proc := func(args ...string) func() (time.Duration, error) {
		return bench.Proc{Dir: dir, Args: args, Stdout: devnull}.Time
	}
	probes := []probe{
		{"list", proc(cfg.bin, "task", "list", "--json")},
		{"git covenant list", proc("git", "covenant", "task", "list", "--json")},
		{"cat", proc("cat", listFile)},
		{"show", proc(cfg.bin, "task", "show", taskID)},
		{"git covenant show", proc("git", "covenant", "task", "show", taskID)},
		{"cat-file", proc("git", "cat-file", "-p", blob)},
		{"rev-parse", proc("git", "rev-parse", "HEAD")},
	}
	if cfg.only == "" {
		for _, p := range probes { // warm-up
			_, err := p.run()
			must(err)
		}
		logf("figure 2: %d runs of %d commands", cfg.runs, len(probes))
		samples := map[string][]time.Duration{}
		for i := 0; i < cfg.runs; i++ {
			for k := range probes {
				p := probes[(k+i)%len(probes)]
				d, err := p.run()
				must(err)
				samples[p.name] = append(samples[p.name], d)
			}
		}
		med := func(name string) time.Duration { return bench.Summarize(samples[name]).Median }
		spread := func(name string) string {
			s := bench.Summarize(samples[name])
			return fmt.Sprintf("median of %d, min %s, max %s", s.N, fmtDur(s.Min), fmtDur(s.Max))
		}
		metIf := func(ok bool) string {
			if ok {
				return "met"
			}
			return "missed"
		}
		catName := fmt.Sprintf("`cat` of the same %s JSON to /dev/null", fmtBytes(fi.Size()))
		rp.add(row{figure: fmt.Sprintf("2. `git-covenant task list --json > /dev/null`, %d tasks, warm index", cfg.tasks), target: "< 100 ms",
			measured: med("list"), floorName: catName, floor: med("cat"), met: metIf(med("list") < 100*time.Millisecond), note: spread("list")})
		rp.add(row{figure: "2. same, via `git covenant task list --json`", target: "< 100 ms",
			measured: med("git covenant list"), floorName: catName, floor: med("cat"), met: metIf(med("git covenant list") < 100*time.Millisecond), note: spread("git covenant list")})
		rp.add(row{figure: "2. `git-covenant task show <id>`", target: "< 30 ms",
			measured: med("show"), floorName: "`git cat-file -p <op blob>`", floor: med("cat-file"), met: metIf(med("show") < 30*time.Millisecond), note: spread("show")})
		rp.add(row{figure: "2. same, via `git covenant task show <id>`", target: "< 30 ms",
			measured: med("git covenant show"), floorName: "`git cat-file -p <op blob>`", floor: med("cat-file"), met: metIf(med("git covenant show") < 30*time.Millisecond), note: spread("git covenant show")})
		rp.add(row{figure: "2. floor: `git rev-parse HEAD` (process start)", target: "—",
			measured: med("rev-parse"), met: "—", note: spread("rev-parse")})
	}

	// One write as a process on the large repository, for scale.
	writeSamples := []time.Duration{}
	commitSamples := []time.Duration{}
	for _, p := range probes[len(probes)-1:] { // warm the page cache for git as well
		_, err := p.run()
		must(err)
	}
	logf("figure 2c: %d task create processes, interleaved with git commit --allow-empty", cfg.creates)
	for i := 0; i < cfg.creates; i++ {
		d, err := proc(cfg.bin, "task", "create", fmt.Sprintf("late task %d", i))()
		must(err)
		writeSamples = append(writeSamples, d)
		d, err = proc("git", "commit", "-q", "--allow-empty", "-m", "floor "+strconv.Itoa(i))()
		must(err)
		commitSamples = append(commitSamples, d)
	}
	rp.add(row{figure: fmt.Sprintf("2c. `git-covenant task create` process on the %d-task repo", cfg.tasks), target: "—",
		measured: bench.Summarize(writeSamples).Median, floorName: "`git commit --allow-empty` process", floor: bench.Summarize(commitSamples).Median,
		met: "—", note: fmt.Sprintf("median of %d; writes the op, then reads the task back", cfg.creates)})
	if cfg.only != "" {
		return
	}

	logf("figure 3: %d cold rebuilds", cfg.rebuilds)
	var rebuild, count, batch []time.Duration
	steps := []func() error{
		func() error {
			d, err := proc(cfg.bin, "index", "rebuild")()
			rebuild = append(rebuild, d)
			return err
		},
		func() error {
			d, err := proc("git", "rev-list", "--all", "--count")()
			count = append(count, d)
			return err
		},
		func() error {
			d, err := bench.Pipeline(dir, []string{"git", "rev-list", "--objects", "--no-object-names", feedRef},
				[]string{"git", "cat-file", "--batch"}, devnull)
			batch = append(batch, d)
			return err
		},
	}
	for i := 0; i < cfg.rebuilds; i++ {
		for k := range steps {
			must(steps[(k+i)%len(steps)]())
		}
	}
	rb := bench.Summarize(rebuild)
	rp.add(row{figure: fmt.Sprintf("3. `git-covenant index rebuild`, %d ops, packed", cfg.tasks+1), target: "—",
		measured: rb.Median, floorName: "`git rev-list --objects <feed> | git cat-file --batch` (every commit, tree, blob)", floor: bench.Summarize(batch).Median,
		met: "—", note: fmt.Sprintf("median of %d (min %s, max %s); verifies every signature", rb.N, fmtDur(rb.Min), fmtDur(rb.Max))})
	rp.add(row{figure: "3. same rebuild", target: "—", measured: rb.Median,
		floorName: "`git rev-list --all --count` (walk the commits)", floor: bench.Summarize(count).Median, met: "—"})
	rp.add(row{figure: "3. same rebuild on loose objects (before repack)", target: "—", measured: looseRebuild,
		floorName: "packed rebuild above", floor: rb.Median, met: "—", note: "1 run"})
	var ops float64 = float64(cfg.tasks + 1)
	rp.notef("rebuild throughput: %.0f ops/s (%s per op)", ops/rb.Median.Seconds(), fmtDur(time.Duration(float64(rb.Median)/ops)))
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	}
}

func fmtBytes(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

func cmdOut(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func printReport(w io.Writer, cfg config, rp *report) {
	fmt.Fprintf(w, "\n## Results\n\n")
	fmt.Fprintf(w, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- machine: %d CPUs (nproc %s), %s, %s\n", runtime.NumCPU(), cmdOut("nproc"), cpuModel(), cmdOut("uname", "-srm"))
	fmt.Fprintf(w, "- %s; %s\n", cmdOut("go", "version"), cmdOut("git", "--version"))
	fmt.Fprintf(w, "- git-covenant: commit %s, binary %s\n", cmdOut("git", "describe", "--always", "--dirty"), cfg.bin)
	fmt.Fprintf(w, "- parameters: BENCH_TASKS=%d BENCH_WRITES=%d BENCH_RUNS=%d BENCH_REBUILDS=%d\n\n", cfg.tasks, cfg.writes, cfg.runs, cfg.rebuilds)
	fmt.Fprintln(w, "| figure | target | measured | floor | floor measured | ratio | met? | notes |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range rp.rows {
		floor := "—"
		if r.floor > 0 {
			floor = fmtDur(r.floor)
		}
		name := r.floorName
		if name == "" {
			name = "—"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.figure, r.target, fmtDur(r.measured), name, floor, r.ratio(), r.met, r.note)
	}
	fmt.Fprintln(w)
	for _, n := range rp.notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
}
