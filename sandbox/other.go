//go:build !linux

package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

func probe() []Status {
	return []Status{
		{Backend: None, Available: true, Detail: "process group, environment allow-list"},
		{Backend: Landlock, Reason: "Landlock is Linux only"},
		{Backend: Bwrap, Reason: "bubblewrap is Linux only"},
	}
}

func bwrapPath() (string, error) { return "", fmt.Errorf("%w: bwrap", ErrUnavailable) }

// CgroupStatus says which cgroup hierarchy runs get limits from.
type CgroupStatus struct {
	Version     string   `json:"version,omitempty"`
	Dirs        []string `json:"dirs,omitempty"`
	Controllers []string `json:"controllers,omitempty"`
	Reason      string   `json:"reason,omitempty"`
}

// Cgroups reports that there are none off Linux.
func Cgroups() CgroupStatus { return CgroupStatus{Reason: "cgroups are Linux only"} }

// Cgroup is a run's cgroup; off Linux there is never one.
type Cgroup struct{ memory bool }

func newCgroup(string, Limits) (*Cgroup, error) { return nil, nil }
func (c *Cgroup) procsFiles() []string          { return nil }
func (c *Cgroup) MemoryLimited() bool           { return false }
func (c *Cgroup) Procs() []int                  { return nil }
func (c *Cgroup) Kill() error                   { return nil }
func (c *Cgroup) PeakMemory() int64             { return 0 }
func (c *Cgroup) Remove() error                 { return nil }

// Helper executes the agent; off Linux only the None backend exists and
// no rlimit is set.
func Helper(args []string) error {
	if len(args) < 3 || args[1] != "--" {
		return fmt.Errorf("%w: usage: %s <spec> -- <argv…>", ErrSpec, HelperArg)
	}
	var hs helperSpec
	if err := json.Unmarshal([]byte(args[0]), &hs); err != nil {
		return fmt.Errorf("%w: %v", ErrSpec, err)
	}
	if hs.Backend != None {
		return fmt.Errorf("%w: %s", ErrUnavailable, hs.Backend)
	}
	argv := args[2:]
	path := argv[0]
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return err
		}
		path = p
	}
	return syscall.Exec(path, argv, os.Environ())
}
