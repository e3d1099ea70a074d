// Package settle owns settlement: batches of receipts (package receipts)
// committed to by an RFC 6962 Merkle root in a signed settle.batch op,
// inclusion proofs a receipt's holder can check offline, and anchors that
// record where a batch root was published on Solana (settle.anchor).
//
// Hashing is RFC 6962's (leaf = SHA-256(0x00 || canonical receipt), node =
// SHA-256(0x01 || left || right)), through transparency-dev/merkle, whose
// verifier also checks every proof; the tree itself is built here, level by
// level, because that library builds none outside its test helpers.
//
// It imports fold, oplog, receipts, runs, tasks and trust, never git.
package settle
