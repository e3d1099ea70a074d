package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestStartupInitsAreLazy bounds what this module's packages allocate at
// process start-up, before any command runs: every process, even
// `--version`, pays for each package-level regexp.MustCompile, map or
// table of every linked package. It re-runs this test binary (which links
// every package the real binary does) with GODEBUG=inittrace=1, running no
// test, and reads the runtime's per-package init lines. The bound is a
// count of allocations and bytes, not a time. Declare regexps as
// &lazyre.Regexp{Expr: ...}, build tables inside a function or behind
// sync.OnceValue, and write membership tests as a switch.
func TestStartupInitsAreLazy(t *testing.T) {
	const module = "github.com/git-covenant/git-covenant/"
	// Allowances per package, in allocations and bytes. mcpserver's tool
	// tables (params, ops, groups) are literal maps still built at init.
	const perPkgAllocs, perPkgBytes = 8, 1 << 10
	allowance := map[string][2]int{
		module + "mcpserver": {120, 24 << 10},
	}
	const totalAllocs, totalBytes = 160, 32 << 10

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, stderr.String())
	}
	var allocs, byts, ours int
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		// init <pkg> @0.9 ms, 0.005 ms clock, 504 bytes, 4 allocs
		f := strings.Fields(sc.Text())
		if len(f) != 11 || f[0] != "init" || f[8] != "bytes," || f[10] != "allocs" {
			continue
		}
		pkg := f[1]
		if !strings.HasPrefix(pkg, module) || strings.HasPrefix(pkg, module+"internal/testgit") ||
			pkg == module+"cmd/git-covenant" {
			continue // not ours, or only in the test binary
		}
		b, err1 := strconv.Atoi(f[7])
		a, err2 := strconv.Atoi(f[9])
		if err1 != nil || err2 != nil {
			t.Fatalf("cannot read init line %q", sc.Text())
		}
		ours++
		allocs += a
		byts += b
		maxA, maxB := perPkgAllocs, perPkgBytes
		if al, ok := allowance[pkg]; ok {
			maxA, maxB = al[0], al[1]
		}
		if a > maxA || b > maxB {
			t.Errorf("package %s allocates %d times (%d bytes) at init, bound %d (%d bytes): make its package-level regexps, maps and tables lazy", pkg, a, b, maxA, maxB)
		}
	}
	if ours == 0 {
		t.Fatalf("no init line of this module's packages in GODEBUG=inittrace=1 output:\n%s", stderr.String())
	}
	if allocs > totalAllocs || byts > totalBytes {
		t.Errorf("this module's packages allocate %d times (%d bytes) at init in all, bound %d (%d bytes)", allocs, byts, totalAllocs, totalBytes)
	}
	t.Logf("%d packages of this module with init work: %d allocations, %d bytes", ours, allocs, byts)
}
