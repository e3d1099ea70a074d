//go:build !linux

package gitstore

import "syscall"

// gitAttr keeps a git child in the caller's process group; without
// Pdeathsig a git child can outlive a caller killed alone.
func gitAttr() *syscall.SysProcAttr { return nil }
