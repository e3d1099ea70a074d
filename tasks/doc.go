// Package tasks owns the task model, the bodies of task ops and the fold:
// the deterministic function that applies verified ops, in total order, to
// state. The same Apply runs when a writer checks an op before signing it
// and when the index folds ops read from feeds, so a client can never write
// what the fold would ignore without being told.
//
// It imports oplog and trust, never git.
package tasks
