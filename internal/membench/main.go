// Command membench measures the memory and secrets figures of `make
// bench` (issue 14): `git covenant memory search` as a whole process over
// BENCH_MEMORIES (100,000) memories, next to `git rev-parse HEAD` and
// `git covenant memory show <id>` (a process that opens the same index and
// reads one record) timed in the same run; and the cost of the secret
// rules per KiB of text, next to one lower-casing pass over the same text.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/internal/bench"
	"github.com/git-covenant/git-covenant/memory"
	"github.com/git-covenant/git-covenant/redact"
)

func main() {
	bin := flag.String("bin", "bin/git-covenant", "git-covenant binary")
	flag.Parse()
	if err := run(*bin); err != nil {
		fmt.Fprintln(os.Stderr, "membench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "membench: "+format+"\n", args...) }

// words is a vocabulary drawn with a skewed distribution, so that query
// terms range from common to rare.
func word(r *rand.Rand) string {
	n := int(r.ExpFloat64() * 300)
	return fmt.Sprintf("w%x", n%5000)
}

func text(r *rand.Rand) string {
	ws := make([]string, 12+r.Intn(20))
	for i := range ws {
		ws[i] = word(r)
	}
	return strings.Join(ws, " ")
}

func run(binPath string) error {
	n := bench.EnvInt("BENCH_MEMORIES", 100000)
	runs := bench.EnvInt("BENCH_RUNS", 20)
	bin, err := filepath.Abs(binPath)
	if err != nil {
		return err
	}
	_, dir, svc, cleanup, err := bench.Workspace("git-covenant-membench-")
	if err != nil {
		return err
	}
	if os.Getenv("BENCH_KEEP") != "" {
		logf("keeping %s", dir)
	} else {
		defer cleanup()
	}
	r := rand.New(rand.NewSource(14))
	start := time.Now()
	var first string
	for done := 0; done < n; {
		batch := min(1000, n-done)
		ds := make([]covenant.Draft, batch)
		for i := range ds {
			tier := memory.Tiers[r.Intn(3)]
			ds[i] = covenant.Draft{Type: memory.OpAdd, Body: memory.AddBody{Tier: tier, Text: text(r), Tags: []string{word(r)}}}
		}
		w, err := svc.Append(context.Background(), ds)
		if err != nil {
			return err
		}
		if first == "" {
			first = memory.NewID(w.Entries[0].Op.Actor, w.Entries[0].Op.Seq)
		}
		done += batch
		if done%20000 == 0 {
			logf("%d/%d memories (%s)", done, n, time.Since(start).Round(time.Second))
		}
	}
	svc.Close()
	logf("%d memories generated in %s", n, time.Since(start).Round(time.Second))
	if _, err := bench.Git(dir, "repack", "-adq"); err != nil {
		return err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	timeIt := func(args ...string) (bench.Stats, error) {
		p := bench.Proc{Dir: dir, Args: args, Stdout: devnull}
		if _, err := p.Time(); err != nil { // warm, and the index caught up
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
	// A common and a rarer word, and one word alone.
	two, err := timeIt(bin, "memory", "search", "w0", "w1f", "--limit", "20")
	if err != nil {
		return err
	}
	one, err := timeIt(bin, "memory", "search", "w2a", "--limit", "20")
	if err != nil {
		return err
	}
	show, err := timeIt(bin, "memory", "show", first)
	if err != nil {
		return err
	}
	revParse, err := timeIt("git", "rev-parse", "HEAD")
	if err != nil {
		return err
	}

	// Redaction per KiB: ordinary handoff prose (with the words the
	// generic rule keys on), plain prose, and a KiB holding one token,
	// each next to one bytes.ToLower pass over the same KiB.
	prose := strings.Repeat("Fixed the session token refresh; the API key handling in auth.go now reads the password from the keystore. ", 10)[:1024]
	plain := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 30)[:1024]
	secret := prose[:900] + "\ntoken gh" + "p_" + strings.Repeat("aB3", 12) + "\n"
	perKiB := func(s string) (time.Duration, time.Duration) {
		const iters = 20000
		t0 := time.Now()
		for i := 0; i < iters; i++ {
			redact.String("f", s)
		}
		d := time.Since(t0) / iters
		b := []byte(s)
		t0 = time.Now()
		for i := 0; i < iters; i++ {
			bytes.ToLower(b)
		}
		return d * 1024 / time.Duration(len(s)), time.Since(t0) / iters * 1024 / time.Duration(len(s))
	}

	fmt.Printf("## Memory (issue 14): %d memories, %d runs each, p50 (p99 = max of %d)\n\n", n, runs, runs)
	fmt.Println("| process | p50 | max | vs git rev-parse | vs memory show |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: |")
	row := func(name string, s bench.Stats) {
		fmt.Printf("| %s | %s | %s | %.1fx | %.2fx |\n", name, ms(s.Median), ms(s.Max), ratio(s.Median, revParse.Median), ratio(s.Median, show.Median))
	}
	row("`memory search w0 w1f` (common and rarer word)", two)
	row("`memory search w2a`", one)
	row("`memory show <id>` (floor: same index, one record)", show)
	row("`git rev-parse HEAD` (floor: a git process)", revParse)
	fmt.Println()
	fmt.Println("| redaction of 1 KiB | per KiB | one ToLower pass | ratio |")
	fmt.Println("| --- | ---: | ---: | ---: |")
	for _, c := range []struct{ name, s string }{{"prose with rule keywords, no secret", prose}, {"plain prose", plain}, {"prose with one token", secret}} {
		d, floor := perKiB(c.s)
		fmt.Printf("| %s | %s | %s | %.0fx |\n", c.name, us(d), us(floor), ratio(d, floor))
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/1e3) }
func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
