// Package oplog defines the operation envelope every feed commit carries:
// its canonical JSON form, its place in the total order (Lamport clock, then
// key id, then sequence number) and the commit message that summarizes it.
//
// It knows nothing of git or of what any operation means; the domain
// packages (tasks, trust, provenance) define bodies and the fold.
package oplog
