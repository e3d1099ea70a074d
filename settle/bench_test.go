package settle

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/git-covenant/git-covenant/receipts"
)

// benchReceipts makes n receipts shaped like real ones.
func benchReceipts(n int) []receipts.Receipt {
	rs := make([]receipts.Receipt, n)
	for i := range rs {
		run := fmt.Sprintf("run-%016x", i)
		rs[i] = receipts.Receipt{At: "2026-12-02T04:00:00Z", ID: run + ".cpu_ms", Kind: receipts.Compute, Op: fmt.Sprintf("%040x", i),
			Payer: "bot", Run: run, Task: "tk-0123456789ab", Unit: receipts.CPUMS, Units: int64(i), V: 1, Witness: "daemon-01234567"}
	}
	return rs
}

// Floor: one SHA-256 over each receipt's canonical bytes, the least any
// Merkle tree over them costs.
func BenchmarkFloorHash100k(b *testing.B) {
	rs := benchReceipts(100000)
	for b.Loop() {
		for i := range rs {
			sha256.Sum256(rs[i].Canonical())
		}
	}
}

// Build: canonical bytes, leaf hashes and the whole tree over 100,000
// receipts (what settle batch and the fold do per batch).
func BenchmarkBuild100k(b *testing.B) {
	rs := benchReceipts(100000)
	for b.Loop() {
		if _, err := NewTree(Leaves(rs)); err != nil {
			b.Fatal(err)
		}
	}
}

// Prove and verify one receipt of 100,000; reports the proof's path size.
func BenchmarkProveVerify100k(b *testing.B) {
	rs := benchReceipts(100000)
	t, _ := NewTree(Leaves(rs))
	path, _ := t.Inclusion(77777)
	b.ReportMetric(float64(len(path)*32), "path-bytes")
	leaf := LeafHash(rs[77777].Canonical())
	for b.Loop() {
		p, _ := t.Inclusion(77777)
		if err := VerifyInclusion(77777, t.Size(), leaf, p, t.Root()); err != nil {
			b.Fatal(err)
		}
	}
}

// Verify only: what settle verify spends on the proof itself.
func BenchmarkVerify100k(b *testing.B) {
	rs := benchReceipts(100000)
	t, _ := NewTree(Leaves(rs))
	path, _ := t.Inclusion(77777)
	leaf := LeafHash(rs[77777].Canonical())
	for b.Loop() {
		if err := VerifyInclusion(77777, t.Size(), leaf, path, t.Root()); err != nil {
			b.Fatal(err)
		}
	}
}
