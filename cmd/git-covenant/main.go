// Command git-covenant governs autonomous software agents, and the humans
// who direct them, with all state in the git repository.
package main

import (
	"os"
	"runtime/pprof"

	"github.com/git-covenant/git-covenant/cli"
)

func main() {
	// GIT_COVENANT_CPUPROFILE=<file> writes a CPU profile of the whole
	// command (docs/perf.md says how the figures were profiled).
	if p := os.Getenv("GIT_COVENANT_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				code := cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
				pprof.StopCPUProfile()
				f.Close()
				os.Exit(code)
			}
			f.Close()
		}
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
