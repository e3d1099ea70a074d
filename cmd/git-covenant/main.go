// Command git-covenant governs autonomous software agents, and the humans
// who direct them, with all state in the git repository.
package main

import (
	"os"

	"github.com/git-covenant/git-covenant/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
