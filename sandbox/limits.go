package sandbox

import "time"

// Limits are the resource limits of one run. Zero means unlimited (the
// limit this process has is inherited).
type Limits struct {
	// CPU is the CPU time the agent's processes may each use (RLIMIT_CPU,
	// whole seconds, rounded up); past it the kernel sends SIGXCPU, then
	// SIGKILL.
	CPU time.Duration `json:"cpu,omitempty"`
	// Memory caps the address space of each process (RLIMIT_AS) and, where
	// a cgroup is available, the memory of the whole run (memory.max).
	Memory int64 `json:"memory,omitempty"`
	// Processes caps the number of processes (RLIMIT_NPROC, which counts
	// every process of the user and which root ignores) and, where a
	// cgroup is available, the run's tasks (pids.max).
	Processes int `json:"processes,omitempty"`
	// FileSize caps the size of any file the agent writes (RLIMIT_FSIZE).
	FileSize int64 `json:"file_size,omitempty"`
	// OpenFiles caps open file descriptors per process (RLIMIT_NOFILE).
	OpenFiles int `json:"open_files,omitempty"`
}

// IsZero reports whether no limit is set.
func (l Limits) IsZero() bool { return l == Limits{} }
