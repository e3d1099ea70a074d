// Package tokens owns operator tokens: bearer secrets an operator makes for
// the daemon's HTTP gateway. A token carries scopes (the capability scopes
// of package trust, plus read) and acts for the identity that created it
// (ADR 0015).
//
// Two halves, kept apart:
//
//   - File is the local token file under .git/covenant/ (mode 0600,
//     replaced atomically, under a lock file): the one place a token's
//     SHA-256 is kept, never its secret. It is what a request is
//     authenticated against, compared in constant time.
//   - Family registers the token.create, token.rotate and token.revoke op
//     types with the fold: the signed audit trail of tokens (id, name,
//     scopes, the first 12 hex digits of the hash, never the secret), kept
//     as fold.Records of kind "token".
//
// It imports fold, oplog, tasks and trust, never git.
package tokens
