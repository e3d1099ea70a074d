package runner

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

var osGetpid = os.Getpid

// Lookup returns the running process with pid. A zombie (exited, not yet
// reaped) counts as gone: it holds nothing any more.
func Lookup(pid int) (Process, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Process{}, fmt.Errorf("%w: %d", ErrNoProcess, pid)
	}
	// The command name (field 2) is in parentheses and may hold anything,
	// spaces and parentheses included: fields count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Process{}, fmt.Errorf("/proc/%d/stat: unreadable", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so field 22 (starttime) is f[19].
	if len(f) < 20 {
		return Process{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	if f[0][0] == 'Z' || f[0][0] == 'X' {
		return Process{}, fmt.Errorf("%w: %d has exited", ErrNoProcess, pid)
	}
	start, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return Process{}, fmt.Errorf("/proc/%d/stat: start time: %v", pid, err)
	}
	return Process{Pid: pid, Start: start}, nil
}
