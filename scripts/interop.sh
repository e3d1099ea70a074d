#!/bin/sh
# make interop: check that an exported provenance bundle verifies with the
# real cosign, offline. cosign is built through the Go module proxy into a
# temporary GOBIN (pinned below); the repository is a throwaway one.
set -eu
COSIGN_VERSION=${COSIGN_VERSION:-v2.6.5}
GO=${GO:-go}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/covenant-interop.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ -n "${COSIGN:-}" ]; then
	cosign=$COSIGN
else
	echo "interop: building cosign $COSIGN_VERSION (go install, may take minutes)" >&2
	GOBIN="$tmp/bin" GOFLAGS=-mod=mod "$GO" install "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
	cosign="$tmp/bin/cosign"
fi
"$GO" build -C "$root" -o "$tmp/bin/git-covenant" ./cmd/git-covenant
export PATH="$tmp/bin:$PATH" HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$tmp/home/.gitconfig"
export GIT_COVENANT_HOME="$tmp/home/covenant" GIT_AUTHOR_NAME=Interop GIT_AUTHOR_EMAIL=interop@example.com
export GIT_COMMITTER_NAME=Interop GIT_COMMITTER_EMAIL=interop@example.com
mkdir -p "$tmp/home"
git init -q -b main "$tmp/repo"
cd "$tmp/repo"
git commit -q --allow-empty -m initial
git covenant init --name alice >/dev/null
echo 'package main' > main.go
git add main.go
git commit -q -m 'add main.go'
git covenant provenance record -- sh -c 'test -f main.go' >/dev/null
commit=$(git rev-parse HEAD)
git covenant provenance export HEAD --out "$tmp/out" >/dev/null
bundle=$(ls "$tmp"/out/*.sigstore.json | head -n 1)
key=$(ls "$tmp"/out/*.pem | head -n 1)
# Offline, cosign cannot fetch the public-good trusted root it loads for
# bundles; key-based verification needs nothing from it, so give it an
# empty one.
printf '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}\n' > "$tmp/trusted_root.json"
"$cosign" verify-blob-attestation --bundle "$bundle" --key "$key" --insecure-ignore-tlog \
	--trusted-root "$tmp/trusted_root.json" \
	--type https://in-toto.io/attestation/test-result/v0.1 --digest "$commit" --digestAlg gitCommit
# And it must refuse the bundle for another commit.
if "$cosign" verify-blob-attestation --bundle "$bundle" --key "$key" --insecure-ignore-tlog \
	--trusted-root "$tmp/trusted_root.json" \
	--type https://in-toto.io/attestation/test-result/v0.1 --digest "$(git rev-parse HEAD~1)" --digestAlg gitCommit 2>/dev/null; then
	echo "interop: cosign accepted the bundle for the wrong commit" >&2
	exit 1
fi
echo "interop: cosign verified the bundle of $commit and refused it for another commit"
