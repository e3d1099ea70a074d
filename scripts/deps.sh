#!/bin/sh
# Installs what the tests need when it is missing: git, ssh-keygen,
# bubblewrap (bwrap) for the sandbox tests (they skip, naming the reason,
# where it cannot run), Chromium for the web console's browser tests
# (driven by playwright-core; they skip without it), tmux for the terminal
# UI's tests, Node.js and npm for the tests that drive real
# clients written for Node, and each of those test projects' npm packages
# (testdata/node/<name>/, pinned by its package-lock.json; installed once,
# again only when the lock file changes).
set -e
cd "$(dirname "$0")/.."
missing=""
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
command -v git >/dev/null 2>&1 || missing="$missing git"
command -v ssh-keygen >/dev/null 2>&1 || missing="$missing openssh-client"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
command -v zsh >/dev/null 2>&1 || missing="$missing zsh"
if [ "$(uname -s)" = Linux ] && ! [ -x /usr/bin/bwrap ] && ! [ -x /bin/bwrap ] && ! [ -x /usr/local/bin/bwrap ]; then
	missing="$missing bubblewrap"
fi
if [ -n "$missing" ]; then
	echo "installing:$missing" >&2
	if command -v apt-get >/dev/null 2>&1; then
		SUDO=""
		[ "$(id -u)" -ne 0 ] && SUDO="sudo"
		$SUDO apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
	else
		echo "please install:$missing" >&2
		exit 1
	fi
fi
# npm packages of the Node test projects: `npm ci` when node_modules is
# missing or older than the lock file.
for lock in testdata/node/*/package-lock.json; do
	[ -f "$lock" ] || continue
	d=$(dirname "$lock")
	stamp="$d/node_modules/.package-lock.json"
	if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
		echo "npm ci in $d" >&2
		(cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	fi
done
