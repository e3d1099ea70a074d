package gitstore

import "syscall"

// gitAttr keeps a git child in the caller's process group and has the
// kernel send it SIGTERM if the caller dies first (see Git).
func gitAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} }
