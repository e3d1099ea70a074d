// Package hooks owns the git hooks git-covenant installs: it writes them,
// chains to a hook that was already there (never clobbering it unless
// forced) and restores it on uninstall; it works out which commits a push
// makes newly reachable (PushCommits) and adds commit trailers the way git
// interpret-trailers does. It works on a hooks directory the caller
// resolves (the covenant service asks git rev-parse --git-path hooks, which
// honours core.hooksPath and worktrees) and runs the git binary; it imports
// nothing from this module.
package hooks
