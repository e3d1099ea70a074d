// Package gitstore owns every byte git-covenant writes to or reads from a git
// repository: objects, refs, compare-and-swap ref updates that honour git's
// own <ref>.lock protocol, SSHSIG commit signatures and the per-actor
// operation feeds under refs/covenant/feeds/.
//
// It is the only package that imports go-git. Callers see its own Hash type
// and plain byte slices, never go-git's types. It imports nothing else from
// this module.
package gitstore
