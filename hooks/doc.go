// Package hooks will own git hook installation (prepare-commit-msg trailers,
// the pre-push provenance check). Reserved: not implemented yet.
package hooks
