package gitstore

import "syscall"

const syscall_EISDIR = syscall.EISDIR
