package bench

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/git-covenant/git-covenant/cli"
)

// newWriter makes a fresh covenant repository under b.TempDir() and returns
// the named writer on it (the signed and floor writers use their own
// repositories, so every writer starts from the same state).
func newWriter(b *testing.B, kind string) Writer {
	b.Helper()
	tmp := b.TempDir()
	if err := Isolate(filepath.Join(tmp, "home"), func(k, v string) error { b.Setenv(k, v); return nil }); err != nil {
		b.Fatal(err)
	}
	r, err := NewCovenantRepo(filepath.Join(tmp, "covenant"))
	if err != nil {
		b.Fatal(err)
	}
	switch kind {
	case "covenant":
		return &CovenantWriter{Service: r}
	case "signed":
		dir := filepath.Join(tmp, "signed")
		if err := InitGit(dir); err != nil {
			b.Fatal(err)
		}
		w, err := NewSignedWriter(dir)
		if err != nil {
			b.Fatal(err)
		}
		return w
	case "floor":
		dir := filepath.Join(tmp, "floor")
		if err := InitGit(dir); err != nil {
			b.Fatal(err)
		}
		id, err := r.Actor(IdentityName)
		if err != nil {
			b.Fatal(err)
		}
		return NewFloorWriter(dir, id.KeyID)
	}
	b.Fatalf("unknown writer %s", kind)
	return nil
}

// BenchmarkWriteOp is the cost of appending one task.create op per call,
// at three levels: the covenant service (Repo.Write), signed commits only
// (BuildFeedCommits + UpdateRef) and the go-git floor (unsigned objects and
// a ref update). Compare them within one run; see docs/perf.md.
//
//	go test -run '^$' -bench WriteOp -benchtime 2000x ./internal/bench
func BenchmarkWriteOp(b *testing.B) {
	for _, kind := range []string{"covenant", "signed", "floor"} {
		b.Run(kind, func(b *testing.B) {
			w := newWriter(b, kind)
			b.ResetTimer()
			cpu := CPUTime()
			for i := 0; i < b.N; i++ {
				if err := w.Write(1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((CPUTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkWriteBatch1000 is the per-op cost when one call appends 1000
// ops with one ref update (how bulk imports and the 100k-task bench repo
// are written). Reported per op.
func BenchmarkWriteBatch1000(b *testing.B) {
	for _, kind := range []string{"covenant", "signed", "floor"} {
		b.Run(kind, func(b *testing.B) {
			w := newWriter(b, kind)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := w.Write(1000); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/op-written")
		})
	}
}

// newLargeRepo makes a covenant repository holding n tasks, written in
// batches of 1000 drafts per Write.
func newLargeRepo(b *testing.B, n int) string {
	b.Helper()
	tmp := b.TempDir()
	if err := Isolate(filepath.Join(tmp, "home"), func(k, v string) error { b.Setenv(k, v); return nil }); err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(tmp, "repo")
	r, err := NewCovenantRepo(dir)
	if err != nil {
		b.Fatal(err)
	}
	w := &CovenantWriter{Service: r}
	for left := n; left > 0; left -= 1000 {
		if err := w.Write(min(left, 1000)); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkRebuild folds a 5000-task repository from scratch
// (covenant.Repo.Rebuild, what `git covenant index rebuild` runs), per
// rebuild. Profile it with -cpuprofile.
func BenchmarkRebuild(b *testing.B) {
	dir := newLargeRepo(b, 5000)
	r, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Rebuild(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTaskListJSON runs `git covenant task list --json` in-process on
// a 5000-task repository with a warm index, output discarded.
func BenchmarkTaskListJSON(b *testing.B) {
	dir := newLargeRepo(b, 5000)
	b.Chdir(dir)
	var errb bytes.Buffer
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if code := cli.Main([]string{"task", "list", "--json"}, nil, io.Discard, &errb, os.Getenv); code != 0 {
			b.Fatalf("exit %d: %s", code, errb.String())
		}
	}
}
