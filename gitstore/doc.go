// Package gitstore owns every byte git-covenant writes to or reads from a git
// repository: objects, refs, compare-and-swap ref updates that honour git's
// own <ref>.lock protocol, SSHSIG commit signatures and the per-actor
// operation feeds under refs/covenant/feeds/. It also owns every run of the
// git binary (Git): network transport, notes, worktrees and the commits
// made with the user's hooks all go through one executor with an injected
// environment and a context.
//
// It is the only package that imports go-git. Callers see its own Hash type
// and plain byte slices, never go-git's types. From this module it imports
// only runner (to find git in the injected PATH).
package gitstore
