package hooks

// prePush verifies the provenance of the commits being pushed. git gives
// it "<local ref> <local sha> <remote ref> <remote sha>" lines on stdin;
// for each ref update (deletions, notes and covenant refs skipped) it
// lists the new commits (remote..local, or local minus everything already
// on that remote for a new ref) and runs
// git covenant verify --stdin --ref <remote ref>, so the [provenance]
// policy decides which refs need provenance (GIT_COVENANT_REQUIRE_PROVENANCE=1
// requires it for every ref). Any failure refuses the push.
const prePush = `#!/bin/sh
` + Marker + `: refuses pushes of commits without valid provenance.
# Remove with: git covenant hooks uninstall
if [ -x "$0` + chainSuffix + `" ]; then
	input=$(cat)
	printf '%s\n' "$input" | "$0` + chainSuffix + `" "$@" || exit $?
else
	input=$(cat)
fi
remote="$1"
zero=0000000000000000000000000000000000000000
status=0
require=
if [ "${GIT_COVENANT_REQUIRE_PROVENANCE:-}" = 1 ]; then require=--require-provenance; fi
while read -r local_ref local_sha remote_ref remote_sha; do
	[ -n "$local_sha" ] || continue
	case "$local_sha" in *[!0]*) ;; *) continue ;; esac
	case "$remote_ref" in refs/notes/*|refs/covenant/*) continue ;; esac
	if [ "$remote_sha" != "$zero" ] && git cat-file -e "$remote_sha^{commit}" 2>/dev/null; then
		commits=$(git rev-list "$remote_sha..$local_sha") || exit 1
	else
		commits=$(git rev-list "$local_sha" --not --remotes="$remote") || exit 1
	fi
	[ -n "$commits" ] || continue
	if ! printf '%s\n' "$commits" | git covenant verify --stdin --ref "$remote_ref" $require >&2; then
		echo "git-covenant: push of $local_ref to $remote_ref refused: commits above lack valid provenance" >&2
		echo "git-covenant: hint: git covenant provenance record <commit> -- <validation command>" >&2
		status=1
	fi
done <<EOF_INPUT
$input
EOF_INPUT
exit $status
`
