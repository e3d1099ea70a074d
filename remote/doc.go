// Package remote carries covenant state between clones through ordinary git
// remotes. It configures a remote's refspecs, fetches feeds into a staging
// namespace, verifies every new commit (signatures, linearity, canonical
// ops, authority through the fold) before any local feed moves, keeps the
// versions of a feed whose key equivocated aside in quarantine, merges
// provenance notes by union and pushes local feeds without ever forcing.
// It also pushes the lease markers behind strong claims.
//
// Network transport always goes through the git binary, so credential
// helpers and SSH configuration apply; objects and refs are read and moved
// in-process through gitstore, refs by compare-and-swap. It imports
// gitstore, ledger, index, oplog, tasks and trust; the covenant package
// drives it under its writer lock.
package remote
