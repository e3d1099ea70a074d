// Package gitstore owns git-covenant's access to a git repository:
// discovering it (GIT_DIR, worktrees, bare), reading and writing objects,
// reading refs and moving them with compare-and-swap that honours git's own
// <ref>.lock protocol, SSHSIG commit signatures and the per-actor operation
// feeds under refs/covenant/feeds/, in-process with go-git. A Store is safe
// for concurrent use; ref updates need the caller to serialize writers.
//
// It also owns the one executor of the git binary (Git: an injected
// environment and a context) that the covenant service, remote (network
// transport) and provenance (worktrees, notes) run git through, so users'
// credential helpers, SSH configuration, hooks and signing apply. The
// exception is the pre-push hook's own walk (hooks.ExecGit), which runs in
// git's hook environment.
//
// It is the only package that imports go-git. Callers see its own Hash type
// and plain byte slices, never go-git's types. From this module it imports
// only runner (to find git in the injected PATH).
package gitstore
