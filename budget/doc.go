// Package budget owns budgets and pause checkpoints: budget.set (limits
// on wall time, CPU time, model tokens and credits for an identity or a
// task, per hour, day or task), budget.pause (a daemon stopped a run and
// says why, what it asked for, what was left, when the budget refills and
// which handoff to resume from) and budget.resume (single use: the first
// resume of a checkpoint by fold order wins, every later one is refused,
// whichever clone wrote it). Spending is not an op: it is the sum of the
// receipts (package receipts) in the budget's window.
//
// It imports fold, oplog, receipts, tasks and trust, never git.
package budget
