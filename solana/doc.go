// Package solana owns talking to a Solana cluster for settlement anchors:
// building and signing the memo transaction that carries a batch root,
// decoding and checking one read back, and the few JSON-RPC methods that
// takes (a small client over net/http).
//
// Transactions are built, serialised, decoded and their signatures checked
// through solana-go (github.com/gagliardetto/solana-go); its types stay in
// this package: callers see base58 strings and bytes. The signer is a
// function over the message bytes, so a private key never comes here: the
// identity's ed25519 key signs through its ssh signer, and the identity's
// public key is the Solana address.
//
// It imports no other package of this module.
package solana
