package gitstore

import "syscall"

const (
	syscall_EISDIR  = syscall.EISDIR
	syscall_ENOTDIR = syscall.ENOTDIR
)
