// Package attest owns the supply-chain envelope formats: in-toto
// Statement v1, DSSE (with its pre-authentication encoding) and sigstore
// bundle v0.3 JSON. It is the only package importing in-toto and sigstore
// libraries, and exposes none of their types: callers see Subject,
// Statement and Envelope. It imports nothing from this module.
package attest
