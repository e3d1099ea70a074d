package sandbox

import "sync"

// WithoutBwrap makes this process see no bubblewrap until restore is
// called, so that fail-closed paths run on a host that has it.
func WithoutBwrap(dir string) (restore func()) {
	old := bwrapDirs
	bwrapDirs = []string{dir}
	availOnce = sync.Once{}
	return func() {
		bwrapDirs = old
		availOnce = sync.Once{}
	}
}
