package sandbox

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// CgroupStatus says which cgroup hierarchy runs get limits from.
type CgroupStatus struct {
	// Version is "v2", "v1" or "" (none writable).
	Version string `json:"version,omitempty"`
	// Dir is where run cgroups are made (v2), or the memory/pids
	// controllers' directories (v1).
	Dirs []string `json:"dirs,omitempty"`
	// Controllers lists the limits a run's cgroup can carry.
	Controllers []string `json:"controllers,omitempty"`
	Reason      string   `json:"reason,omitempty"`
}

// Cgroup is one run's cgroup: every process of the run is in it (the
// helper joins it before executing the agent), so it can be limited as a
// whole and killed as a whole, including processes that left the process
// group.
type Cgroup struct {
	v2     string   // the v2 directory, or ""
	v1     []string // v1 directories (memory, pids), or nil
	memory bool     // a memory limit is in force
}

// cgroupMounts finds the cgroup2 mount and the v1 memory and pids mounts.
func cgroupMounts() (v2 string, v1 map[string]string) {
	v1 = map[string]string{}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", v1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts... - fstype source superopts
		parts := strings.SplitN(sc.Text(), " - ", 2)
		if len(parts) != 2 {
			continue
		}
		pre, post := strings.Fields(parts[0]), strings.Fields(parts[1])
		if len(pre) < 5 || len(post) < 3 {
			continue
		}
		switch post[0] {
		case "cgroup2":
			if v2 == "" {
				v2 = pre[4]
			}
		case "cgroup":
			for _, o := range strings.Split(post[2], ",") {
				if o == "memory" || o == "pids" {
					v1[o] = pre[4]
				}
			}
		}
	}
	return v2, v1
}

// selfCgroups reads /proc/self/cgroup: the v2 path ("0::") and the v1
// path of each controller.
func selfCgroups() (v2 string, v1 map[string]string) {
	v1 = map[string]string{}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", v1
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			v2 = f[2]
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			v1[c] = f[2]
		}
	}
	return v2, v1
}

// cgroupParents returns the directories run cgroups go under: below this
// process's own cgroup in each hierarchy that is writable.
func cgroupParents() (v2 string, v1 map[string]string, why string) {
	m2, m1 := cgroupMounts()
	s2, s1 := selfCgroups()
	v1 = map[string]string{}
	writable := func(d string) bool { return syscall.Access(d, 0x2 /* W_OK */) == nil }
	if m2 != "" && s2 != "" {
		d := filepath.Join(m2, s2)
		if writable(d) {
			v2 = d
		}
	}
	for _, c := range []string{"memory", "pids"} {
		if m1[c] == "" {
			continue
		}
		d := filepath.Join(m1[c], s1[c])
		if writable(d) {
			v1[c] = d
		}
	}
	if v2 == "" && len(v1) == 0 {
		why = "no writable cgroup hierarchy (cgroup limits need root or a delegated cgroup)"
	}
	return v2, v1, why
}

// Cgroups reports the cgroup hierarchy runs would use.
func Cgroups() CgroupStatus {
	v2, v1, why := cgroupParents()
	if why != "" {
		return CgroupStatus{Reason: why}
	}
	st := CgroupStatus{}
	if v2 != "" {
		st.Version = "v2"
		st.Dirs = append(st.Dirs, v2)
		st.Controllers = append(st.Controllers, "kill")
		if ctl, err := os.ReadFile(filepath.Join(v2, "cgroup.controllers")); err == nil {
			for _, c := range strings.Fields(string(ctl)) {
				if c == "memory" || c == "pids" {
					st.Controllers = append(st.Controllers, c)
				}
			}
		}
	}
	for _, c := range []string{"memory", "pids"} {
		if d, ok := v1[c]; ok {
			if st.Version == "" {
				st.Version = "v1"
			}
			st.Dirs = append(st.Dirs, d)
			st.Controllers = append(st.Controllers, c+" (v1)")
		}
	}
	return st
}

// newCgroup makes a run's cgroup under root ("" finds the parents), with
// the limits the hierarchy can carry. It returns nil (and no error) when
// no hierarchy is writable: cgroups are used where they can be.
func newCgroup(root string, l Limits) (*Cgroup, error) {
	var v2 string
	var v1 map[string]string
	if root != "" {
		v2, v1 = root, map[string]string{}
	} else {
		var why string
		if v2, v1, why = cgroupParents(); why != "" {
			return nil, nil
		}
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	name := "covenant-run-" + hex.EncodeToString(rnd[:])
	cg := &Cgroup{}
	if v2 != "" {
		d := filepath.Join(v2, name)
		if err := os.Mkdir(d, 0o755); err == nil {
			cg.v2 = d
			if l.Memory > 0 && writeFile(filepath.Join(d, "memory.max"), strconv.FormatInt(l.Memory, 10)) == nil {
				writeFile(filepath.Join(d, "memory.swap.max"), "0")
				cg.memory = true
			}
			if l.Processes > 0 {
				writeFile(filepath.Join(d, "pids.max"), strconv.Itoa(l.Processes))
			}
		}
	}
	for _, c := range []string{"memory", "pids"} {
		p, ok := v1[c]
		if !ok {
			continue
		}
		d := filepath.Join(p, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			continue
		}
		cg.v1 = append(cg.v1, d)
		switch c {
		case "memory":
			if l.Memory > 0 && writeFile(filepath.Join(d, "memory.limit_in_bytes"), strconv.FormatInt(l.Memory, 10)) == nil {
				cg.memory = true
			}
		case "pids":
			if l.Processes > 0 {
				writeFile(filepath.Join(d, "pids.max"), strconv.Itoa(l.Processes))
			}
		}
	}
	if cg.v2 == "" && len(cg.v1) == 0 {
		return nil, nil
	}
	return cg, nil
}

// MemoryLimited reports whether the run's memory is capped by the cgroup
// (else Limits.Memory is an address-space rlimit).
func (c *Cgroup) MemoryLimited() bool { return c != nil && c.memory }

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0) }

func (c *Cgroup) dirs() []string {
	var ds []string
	if c.v2 != "" {
		ds = append(ds, c.v2)
	}
	return append(ds, c.v1...)
}

func (c *Cgroup) procsFiles() []string {
	var fs []string
	for _, d := range c.dirs() {
		fs = append(fs, filepath.Join(d, "cgroup.procs"))
	}
	return fs
}

// Procs lists the processes in the cgroup.
func (c *Cgroup) Procs() []int {
	seen := map[int]bool{}
	var out []int
	for _, f := range c.procsFiles() {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(s); err == nil && !seen[pid] {
				seen[pid] = true
				out = append(out, pid)
			}
		}
	}
	return out
}

// Kill SIGKILLs every process in the cgroup, which holds only what the run
// started: with cgroup.kill (v2, Linux 5.14) atomically, else pid by pid
// until it is empty. It returns once the cgroup is empty or after a few
// seconds.
func (c *Cgroup) Kill() error {
	if c == nil {
		return nil
	}
	if c.v2 != "" {
		writeFile(filepath.Join(c.v2, "cgroup.kill"), "1")
	}
	for i := 0; i < 200; i++ {
		procs := c.Procs()
		if len(procs) == 0 {
			return nil
		}
		for _, pid := range procs {
			c.killOne(pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("sandbox: cgroup %s still has processes", c.dirs()[0])
}

// killOne SIGKILLs pid only if, once held by a pidfd (so that the pid
// cannot be reused under us), it is still in the cgroup.
func (c *Cgroup) killOne(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone already, or no pidfd (Linux < 5.3): cgroup.kill or the group kill covers it
	}
	defer unix.Close(fd)
	if slices.Contains(c.Procs(), pid) {
		unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	}
}

// PeakMemory is the most memory the run used, where the cgroup records it
// (v2 memory.peak, v1 memory.max_usage_in_bytes); 0 when unknown.
func (c *Cgroup) PeakMemory() int64 {
	if c == nil {
		return 0
	}
	for _, f := range []string{filepath.Join(c.v2, "memory.peak")} {
		if c.v2 == "" {
			break
		}
		if b, err := os.ReadFile(f); err == nil {
			n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			return n
		}
	}
	for _, d := range c.v1 {
		if b, err := os.ReadFile(filepath.Join(d, "memory.max_usage_in_bytes")); err == nil {
			n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			return n
		}
	}
	return 0
}

// Remove kills what is left and removes the cgroup's directories.
func (c *Cgroup) Remove() error {
	if c == nil {
		return nil
	}
	c.Kill()
	var errs []error
	for _, d := range c.dirs() {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
