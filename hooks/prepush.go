package hooks

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// prePush hands git's ref lines to 'git covenant hooks pre-push', which
// works out the commits each update makes newly reachable and verifies
// their provenance (PushCommits says which). Any failure refuses the push.
const prePush = `#!/bin/sh
` + Marker + `: refuses pushes of commits without valid provenance.
# Remove with: git covenant hooks uninstall
if [ -x "$0` + chainSuffix + `" ]; then
	input=$(cat)
	printf '%s\n' "$input" | "$0` + chainSuffix + `" "$@" || exit $?
	printf '%s\n' "$input" | git covenant hooks pre-push "$@"
else
	git covenant hooks pre-push "$@"
fi
`

// Update is one line git gives a pre-push hook on stdin.
type Update struct {
	LocalRef, LocalSHA, RemoteRef, RemoteSHA string
}

// Deletes reports whether the update deletes the remote ref.
func (u Update) Deletes() bool { return strings.Trim(u.LocalSHA, "0") == "" }

// ParseUpdates reads "<local ref> <local sha> <remote ref> <remote sha>"
// lines; blank lines are skipped.
func ParseUpdates(in io.Reader) ([]Update, error) {
	var out []Update
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 4 {
			return nil, fmt.Errorf("pre-push input line %q: want <local ref> <local sha> <remote ref> <remote sha>", sc.Text())
		}
		out = append(out, Update{f[0], f[1], f[2], f[3]})
	}
	return out, sc.Err()
}

// Git runs git in the repository and returns its trimmed stdout.
type Git func(args ...string) (string, error)

// Skipped reports whether an update is not checked at all: deletions and
// covenant's own refs (feeds and notes, which sync verifies).
func Skipped(u Update) bool {
	return u.Deletes() || strings.HasPrefix(u.RemoteRef, "refs/notes/") || strings.HasPrefix(u.RemoteRef, "refs/covenant/")
}

// PushCommits lists the commits an update makes newly reachable that must
// be verified, newest first.
//
// For a protected ref (protected(remote ref) is true) that is every commit
// of the new value not already reachable from a protected ref of the
// remote: from the ref's own old value, or from another ref the remote
// lists (remoteRefs, ref → id, from git ls-remote) that is protected too.
// What the remote holds on unprotected refs proves nothing: a new
// protected branch pushed at a commit already on a feature branch is
// verified. A remote ref whose commit is not here cannot be an ancestor of
// ours and is ignored. For an unprotected ref, commits the remote already
// has anywhere (the remote-tracking refs) are left out, as before.
func PushCommits(git Git, remote string, u Update, protected func(ref string) bool, remoteRefs map[string]string) ([]string, error) {
	if Skipped(u) {
		return nil, nil
	}
	// One rev-list: --ignore-missing drops excluded ids this repository
	// does not have (a remote commit not here cannot be an ancestor of
	// ours), so no process per id checks for it first.
	args := []string{"rev-list", "--ignore-missing", u.LocalSHA}
	var not []string
	if objectID(u.RemoteSHA) && strings.Trim(u.RemoteSHA, "0") != "" {
		not = append(not, u.RemoteSHA)
	}
	if protected(u.RemoteRef) {
		for ref, sha := range remoteRefs {
			if ref != u.RemoteRef && protected(ref) && objectID(sha) {
				not = append(not, sha)
			}
		}
		if len(not) > 0 {
			args = append(args, "--not")
			args = append(args, not...)
		}
	} else {
		args = append(args, "--not")
		args = append(args, not...)
		args = append(args, "--remotes="+remote)
	}
	out, err := git(args...)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// objectID reports whether s is a full hex object id, so that nothing a
// remote lists reaches rev-list as an option or a revision expression.
func objectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// RemoteRefs lists the remote's refs (git ls-remote); nil if it cannot be
// listed, which makes PushCommits verify more, never less.
func RemoteRefs(git Git, remote string) map[string]string {
	out, err := git("ls-remote", "--", remote)
	if err != nil {
		return nil
	}
	refs := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		sha, ref, ok := strings.Cut(line, "\t")
		if ok && !strings.HasSuffix(ref, "^{}") {
			refs[ref] = sha
		}
	}
	return refs
}
