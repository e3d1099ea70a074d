package index

import (
	"os"

	"golang.org/x/sys/unix"
)

// memoryFile returns an anonymous file in memory (memfd): no path, no
// disk, freed when closed.
func memoryFile() (*os.File, error) {
	fd, err := unix.MemfdCreate("git-covenant-index", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "memfd:git-covenant-index"), nil
}
