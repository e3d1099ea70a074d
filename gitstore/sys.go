package gitstore

import (
	"os"
	"syscall"
)

const (
	syscall_EISDIR  = syscall.EISDIR
	syscall_ENOTDIR = syscall.ENOTDIR
)

// fileID returns the device and inode of a file, which name it for as long
// as it exists.
func fileID(fi os.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), st.Ino, true
}

// processAlive reports whether a process with this id exists (other than
// this one, which is never the dead writer).
func processAlive(pid int) bool {
	if pid <= 0 || pid == os.Getpid() {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
