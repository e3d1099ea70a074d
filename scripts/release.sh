#!/bin/sh
# make release VERSION=vX.Y.Z: reproducible archives for linux and darwin
# on amd64 and arm64, a CycloneDX SBOM and SHA256SUMS (internal/release),
# then an audit-root attestation over them made with git-covenant itself:
# the covenant history of COVENANT_REPO (default: this checkout) is
# verified first, then `attest audit-root --release` binds every release
# file by name and sha256 to a signed checkpoint over its feed heads, and
# the bundle is checked back with `attest verify` and `sha256sum -c`.
#
#   VERSION           required, vMAJOR.MINOR.PATCH
#   DIST              output directory (default dist/$VERSION)
#   RELEASE_TARGETS   comma-separated os/arch (default: the four)
#   RELEASE_ATTEST=0  skip the attestation (a checkout with no covenant identity)
#   COVENANT_REPO     the repository whose verified history attests the release
#   GIT_COVENANT      the git-covenant to attest with (default: this release's
#                     own binary for this machine, when it is one of the targets)
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
: "${VERSION:?give VERSION=vX.Y.Z}"
dist=${DIST:-dist/$VERSION}
targets=${RELEASE_TARGETS:-linux/amd64,linux/arm64,darwin/amd64,darwin/arm64}
"${GO:-go}" run ./internal/release -version "$VERSION" -out "$dist" -targets "$targets"
dist=$(cd "$dist" && pwd)
(cd "$dist" && sha256sum -c --quiet SHA256SUMS)
if [ "${RELEASE_ATTEST:-1}" = 0 ]; then
	echo "release: $dist (not attested: RELEASE_ATTEST=0)" >&2
	exit 0
fi
gc=${GIT_COVENANT:-}
if [ -z "$gc" ]; then
	host="$("${GO:-go}" env GOOS)-$("${GO:-go}" env GOARCH)"
	archive="$dist/git-covenant-$VERSION-$host.tar.gz"
	if [ ! -f "$archive" ]; then
		echo "release: no archive for this machine ($host) to attest with; set GIT_COVENANT" >&2
		exit 1
	fi
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/covenant-release.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	tar -xzf "$archive" -C "$tmp"
	gc="$tmp/git-covenant-$VERSION-$host/bin/git-covenant"
fi
repo=${COVENANT_REPO:-$root}
set --
for f in "$dist"/*.tar.gz "$dist"/*.cdx.json "$dist"/SHA256SUMS; do
	set -- "$@" --release "$f"
done
bundle="$dist/git-covenant-$VERSION.audit.sigstore.json"
# The history is verified first: a release is attested only from a clean one.
(cd "$repo" && "$gc" verify --full)
(cd "$repo" && "$gc" attest audit-root "$@" --out "$bundle")
(cd "$repo" && "$gc" attest verify "$bundle" "$@")
echo "release: $dist attested by $bundle" >&2
