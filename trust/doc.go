// Package trust owns who may act: the trust roots pinned in the committed
// config, the actors and identities the feeds introduce, capability grants,
// and the checks every op passes through: Admit, the fold's first guard
// (the signing key may act at all), and Find (a grant covers what the op
// needs). Its own op types (actor genesis, identity register, rotate and
// revoke, cap grant and revoke) are registered as Family, one function per
// type.
//
// It imports fold, oplog and identity, never git.
package trust
