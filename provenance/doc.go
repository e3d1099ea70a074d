// Package provenance owns provenance records: in-toto statements (built and
// signed through package attest) that bind a code commit, its tree and the
// blobs it changed to the task, lease and validation evidence behind it;
// their storage as git notes under refs/notes/covenant (one sigstore bundle
// per line); and their verification over a range of commits, including the
// tree and blob rules that let squash merges and rebases keep their
// provenance. Its API uses no library types: hashes are gitstore.Hash,
// identities and tasks come through the Authority interface. It imports
// attest, gitstore, tasks and trust.
package provenance
