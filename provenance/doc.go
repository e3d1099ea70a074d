// Package provenance will own provenance envelopes: in-toto statements that
// bind code commits to the tasks, leases and validation evidence behind them,
// stored as git notes under refs/notes/covenant, and their verification.
// Reserved: not implemented yet.
package provenance
