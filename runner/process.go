package runner

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNoProcess means no running process has the pid asked about.
var ErrNoProcess = errors.New("no such process")

// Process names one process across pid reuse: its pid and its start time
// (on Linux, clock ticks after boot, /proc/<pid>/stat field 22). A lock that
// records the Process holding it can be cleared once that Process is gone,
// and never while it runs.
type Process struct {
	Pid   int
	Start uint64
}

// String is the form ParseProcess reads: "<pid> <start>".
func (p Process) String() string { return fmt.Sprintf("%d %d", p.Pid, p.Start) }

// ParseProcess reads what Process.String wrote.
func ParseProcess(s string) (Process, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Process{}, fmt.Errorf("process record %q: want \"<pid> <start>\"", s)
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return Process{}, fmt.Errorf("process record %q: want \"<pid> <start>\"", s)
	}
	return Process{Pid: pid, Start: start}, nil
}

// Self is this process.
func Self() (Process, error) { return Lookup(osGetpid()) }

// Alive reports whether p is still running: a process with its pid exists,
// is not a zombie, and started when p did.
func (p Process) Alive() bool {
	q, err := Lookup(p.Pid)
	return err == nil && q.Start == p.Start
}
