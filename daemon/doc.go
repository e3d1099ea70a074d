// Package daemon runs agents for one clone: it watches the repository's
// feeds, claims ready tasks that an agent manifest takes under that agent's
// own identity and lease, runs the agent in a worktree of its own under the
// runner (own process group, exact environment, capped output, timeout and
// grace), heartbeats the lease while it runs, signs on the agent's behalf
// through a local socket (the agent holds a per-run token, never a key),
// and ends every run in a signed run record, a task move and a handoff. It
// re-adopts or closes the runs of a daemon that died, and writes witness
// checkpoints.
//
// One daemon per clone: .git/covenant/daemon.lock is held (flock) for the
// daemon's life and names its holder (pid and start time); the kernel
// drops it when the holder dies, so a dead holder's lock is taken over.
// Beside it: daemon.log (rotated), daemon.sock (the gateway) and
// daemon/runs/<run>.json (what a restart needs to re-adopt or close a run).
//
// It goes through one long-lived covenant.Service for every read and write
// and imports covenant, runner, runs, tasks and identity; the cli package
// wires it to commands.
package daemon
