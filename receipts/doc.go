// Package receipts derives signed receipts from run records: every
// run.record op (package runs) is the receipt of what that run used, one
// receipt per resource (wall and CPU time, memory, model tokens and
// credits), each naming the identity that pays for it. A receipt is not an
// op of its own: it is a view of the signed record, so it is exactly as
// trustworthy as the record and can never disagree with it. Its canonical
// bytes are what a settlement batch (package settle) commits to.
//
// It imports runs only, never git.
package receipts
