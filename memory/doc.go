// Package memory owns shared memory: notes that identities keep across
// sessions, in tiers, optionally tied to a task and pinned to the blobs of
// files they are about. It registers the memory.add and memory.forget op
// types with the fold (Family) and keeps memories as fold.Records, so
// neither the index nor the task fold knows about it.
//
// It imports fold, oplog, tasks and trust, never git.
package memory
