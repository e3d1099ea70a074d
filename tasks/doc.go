// Package tasks owns the task model, the bodies of task ops with their
// Check methods, and the task family of the fold (Family): create, leases
// (leases.go), moves, gates, links, escalations, handoffs and comments, one
// file per concern. The registry in package fold runs the same Check when a
// writer prepares an op and when the index folds it, so a client can never
// write what the fold would ignore without being told.
//
// It imports fold, oplog and trust, never git.
package tasks
