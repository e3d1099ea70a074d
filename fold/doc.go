// Package fold is the registry of op types and the dispatcher of the fold:
// the deterministic function that applies verified ops, in total order, to
// state.
//
// Each domain package owns its op types and registers them as a Family: per
// type, one Check of the op on its own (its body's shape and values, which
// needs no state) and one Apply against state. The same Check runs in the
// writer before it signs an op and in the fold before Apply, so a rule is
// written once. Guards are the checks every op passes before its family sees
// it, whatever its type (the signer may act at all, at that feed position,
// at that time); they are given to New, in order.
//
// The index and verify fold through a Registry; adding an op family means
// writing a package that returns a Family and naming it where the service
// composes its registry, never editing a switch here or in the index.
//
// It imports oplog only.
package fold
