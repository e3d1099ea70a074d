//go:build unix && !linux

package runner

import "errors"

// ErrNoSubreaper means the system has no child subreaper.
var ErrNoSubreaper = errors.New("child subreaper is Linux only")

// BecomeSubreaper is Linux only.
func BecomeSubreaper() error { return ErrNoSubreaper }

// IsSubreaper is false off Linux.
func IsSubreaper() bool { return false }

// Reaper reaps nothing off Linux: orphans go to pid 1.
type Reaper struct{}

// StartReaper is Linux only.
func StartReaper() (*Reaper, error) { return nil, ErrNoSubreaper }

func (r *Reaper) Stop()            {}
func (r *Reaper) Reaped() int      { return 0 }
func (r *Reaper) Reap() int        { return 0 }
func (r *Reaper) Orphans() []int   { return nil }
func (r *Reaper) KillOrphans() int { return 0 }
