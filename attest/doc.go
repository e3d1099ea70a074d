// Package attest will own DSSE envelopes, in-toto statements and sigstore
// bundles; it will be the only package importing sigstore-go.
// Reserved: not implemented yet.
package attest
