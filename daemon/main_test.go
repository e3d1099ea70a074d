package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/git-covenant/git-covenant/internal/testgit"
)

// binDir holds the git-covenant binary the tests build once: agents call
// `git covenant` inside their runs, and the crash tests run daemons as
// processes of their own.
var binDir string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "daemon-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := testgit.BuildBinary(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	binDir = tmp
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

func binPath() string { return filepath.Join(binDir, "git-covenant") }
