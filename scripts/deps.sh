#!/bin/sh
# Installs what the tests need when it is missing: git, ssh-keygen, and
# bubblewrap (bwrap) for the sandbox tests (they skip, naming the reason,
# where it cannot run).
set -e
missing=""
command -v git >/dev/null 2>&1 || missing="$missing git"
command -v ssh-keygen >/dev/null 2>&1 || missing="$missing openssh-client"
if [ "$(uname -s)" = Linux ] && ! [ -x /usr/bin/bwrap ] && ! [ -x /bin/bwrap ] && ! [ -x /usr/local/bin/bwrap ]; then
	missing="$missing bubblewrap"
fi
[ -z "$missing" ] && exit 0
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
