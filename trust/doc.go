// Package trust owns who may act: the trust roots pinned in the committed
// config, the actors the feeds introduce (genesis and registration ops) and
// the authorization check every op passes through, at write time and again
// in the fold.
//
// It imports oplog and identity, never git.
package trust
