package runner

import (
	"bytes"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// started is the set of children this package started and still waits
// for. The reaper never touches them: their statuses belong to supervise.
// startMu is held across cmd.Start and the registration, and by the
// reaper while it scans, so a child that exits at once is never taken for
// an orphan.
var (
	startMu sync.Mutex
	started = map[int]bool{}
)

func track(pid int)   { started[pid] = true } // under startMu
func untrack(pid int) { startMu.Lock(); delete(started, pid); startMu.Unlock() }

// BecomeSubreaper makes this process the reaper of its orphaned
// descendants (prctl PR_SET_CHILD_SUBREAPER): a process whose parent dies
// is re-parented here instead of to pid 1, which in a container often
// reaps nothing. A daemon that does this must also reap them: use
// StartReaper.
func BecomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// IsSubreaper reports whether this process is a child subreaper.
func IsSubreaper() bool {
	var v int32
	// PR_GET_CHILD_SUBREAPER stores an int at the address given.
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0); err != nil {
		return false
	}
	return v != 0
}

// Reaper reaps the orphans re-parented to this process. An orphan is a
// child this process did not start itself: not one the runner is
// supervising, and not in this process's own process group (the git
// children of gitstore are, and their exec.Cmd reaps them). Every child
// with a process group of its own must therefore be started through this
// package.
type Reaper struct {
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	reaped int
}

// StartReaper makes this process a subreaper and reaps orphans as they
// exit (on SIGCHLD, and every second in case a signal was coalesced) until
// Stop.
func StartReaper() (*Reaper, error) {
	if err := BecomeSubreaper(); err != nil {
		return nil, err
	}
	r := &Reaper{stop: make(chan struct{}), done: make(chan struct{})}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGCHLD)
	go func() {
		defer close(r.done)
		defer signal.Stop(sig)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			r.Reap()
			select {
			case <-r.stop:
				r.Reap()
				return
			case <-sig:
			case <-t.C:
			}
		}
	}()
	return r, nil
}

// Stop ends the reaping (this process stays a subreaper).
func (r *Reaper) Stop() {
	close(r.stop)
	<-r.done
}

// Reaped is how many orphans have been reaped so far.
func (r *Reaper) Reaped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reaped
}

// Reap reaps every orphan that has exited and returns how many.
func (r *Reaper) Reap() int {
	startMu.Lock()
	defer startMu.Unlock()
	n := 0
	for _, c := range orphans() {
		if !c.zombie {
			continue
		}
		var ws unix.WaitStatus
		if pid, err := unix.Wait4(c.pid, &ws, unix.WNOHANG, nil); err == nil && pid == c.pid {
			n++
		}
	}
	r.mu.Lock()
	r.reaped += n
	r.mu.Unlock()
	return n
}

// Orphans lists the living orphans: descendants of processes this one
// started whose parents have gone (so only a subreaper has any).
func (r *Reaper) Orphans() []int {
	startMu.Lock()
	defer startMu.Unlock()
	var out []int
	for _, c := range orphans() {
		if !c.zombie {
			out = append(out, c.pid)
		}
	}
	return out
}

// KillOrphans SIGKILLs every living orphan and returns how many. Only a
// descendant of a process this one started is ever re-parented here, and
// an orphan's pid cannot be reused while it is our unreaped child (we hold
// the reaping lock), so this never signals a stranger. The daemon calls it
// when no run is live: an orphan that left its run's process group
// (setsid) outlived the run that started it.
func (r *Reaper) KillOrphans() int {
	startMu.Lock()
	n := 0
	for _, c := range orphans() {
		if !c.zombie && unix.Kill(c.pid, unix.SIGKILL) == nil {
			n++
		}
	}
	startMu.Unlock()
	if n > 0 {
		// Reap what was killed without waiting for the next SIGCHLD.
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			r.Reap()
			if len(r.Orphans()) == 0 {
				break
			}
		}
	}
	return n
}

type child struct {
	pid    int
	zombie bool
}

// orphans scans /proc for children of this process that it did not start
// (under startMu).
func orphans() []child {
	self := os.Getpid()
	pgrp := syscall.Getpgrp()
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var out []child
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || started[pid] {
			continue
		}
		b, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(string(f[1]))
		pg, _ := strconv.Atoi(string(f[2]))
		if ppid != self || pg == pgrp {
			continue
		}
		out = append(out, child{pid: pid, zombie: f[0][0] == 'Z'})
	}
	return out
}
