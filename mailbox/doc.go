// Package mailbox owns the leased mailbox between identities: messages one
// identity sends another, which the recipient claims under a lease, answers
// with a result (or gives back, or fails), and which the sender then
// acknowledges. It registers the a2a.* op types with the fold (Family) and
// keeps messages as fold.Records, so neither the index nor the task fold
// knows about it.
//
// A message is folded like a task: queued, then in flight under a lease
// (holder identity, epoch, expiry, attempt count), then result pending once
// the holder responds, then resolved when the sender acknowledges; or
// failed. Leases follow the task leases' rules (ADR 0010): held by
// identity, acted under by epoch, judged at the op's time bounds. The
// retry policy (Policy, from the config's [mailbox] table) is a fold input:
// an expired lease may be claimed again, attempts are counted, and a
// message out of attempts or past its deadline is failed.
//
// It imports fold, oplog, tasks and trust, never git.
package mailbox
