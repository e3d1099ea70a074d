#!/bin/sh
# make fuzz: runs every Go fuzz target of the project for FUZZTIME each
# (default 5m), one after another; `make test` runs only their seed
# corpora. FUZZ=<regexp> picks targets by name. New inputs the fuzzer
# finds interesting stay in Go's cache; a crasher is written to the
# package's testdata/fuzz/<Target>/ (commit it with the fix).
set -e
cd "$(dirname "$0")/.."
time="${FUZZTIME:-5m}"
pick="${FUZZ:-.}"
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
	pkg="./$(dirname "${f#./}")"
	for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
		echo "$name" | grep -Eq "$pick" || continue
		echo "fuzz: $pkg $name for $time" >&2
		"${GO:-go}" test -run '^$' -fuzz "^$name\$" -fuzztime "$time" "$pkg"
	done
done
