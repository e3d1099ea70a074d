// Package sandbox confines the agents the daemon runs: resource limits
// applied in the child before it executes the agent, and the backends that
// restrict what the agent may read, write and reach (none, landlock, bwrap,
// and cgroup limits where the hierarchy is writable). It reports which
// backends the host has, and fails closed when a run requires one it lacks.
//
// Under every backend but an explicit None, the paths a Spec hides (the
// identity keystore, the daemon's state under .git/covenant) cannot be read
// by the agent.
//
// It imports nothing from this module.
package sandbox
