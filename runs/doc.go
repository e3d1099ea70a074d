// Package runs owns run records: the signed account a daemon gives of one
// agent run on one task (who ran, under which lease epoch, what command,
// how it ended, what it cost, what it printed and which commits it left).
// It registers the run.record op type with the fold (Family) and keeps the
// records as fold.Records of kind "run", so neither the index nor the task
// fold knows about it; a record also adds an event to its task's history.
//
// Only identities of role daemon write run records: the daemon witnessed
// the run, the agent never held a key.
//
// It imports fold, oplog, tasks and trust, never git.
package runs
