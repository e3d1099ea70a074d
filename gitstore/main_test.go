package gitstore_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/git-covenant/git-covenant/gitstore"
)

// writeLoopEnv makes the test binary a writer that appends to a feed of
// the repository it names until it is killed (TestKilledWritersLoseNothing).
const writeLoopEnv = "GITSTORE_TEST_WRITE_LOOP"

func TestMain(m *testing.M) {
	if dir := os.Getenv(writeLoopEnv); dir != "" {
		if err := writeLoop(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// writeLoop appends single-op writes to refs/covenant/feeds/abc through one
// Store, as a long-lived service does, for ever.
func writeLoop(dir string) error {
	st, err := gitstore.Open(dir)
	if err != nil {
		return err
	}
	signer, err := seedSigner(1)
	if err != nil {
		return err
	}
	ref := gitstore.FeedRef("abc")
	head, _, err := st.ReadRef(ref)
	if err != nil {
		return err
	}
	for i := 0; ; i++ {
		rec := record("loop")
		rec.Op = []byte(`{"type":"test","pid":` + strconv.Itoa(os.Getpid()) + `,"n":` + strconv.Itoa(i) + `}`)
		hs, err := st.BuildFeedCommits(head, []gitstore.Record{rec}, signer)
		if err != nil {
			return err
		}
		if err := st.UpdateRef(ref, head, hs[0]); err != nil {
			return err
		}
		head = hs[0]
		os.Stdout.Write([]byte("\n"))
	}
}
