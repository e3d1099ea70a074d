#!/bin/sh
# make bench: times git-covenant against floors measured in the same run
# (raw go-git, the git binary, cat) and prints a Markdown report; see
# docs/perf.md. Run after `make build` (the Makefile target does).
#
# Knobs (environment):
#   BENCH_TASKS=100000   tasks in the large repository (10000 for a quick run)
#   BENCH_WRITES=2000    single-op writes per writer (figure 1)
#   BENCH_RUNS=20        runs of each process timed for figure 2
#   BENCH_REBUILDS=3     cold index rebuilds (figure 3)
#   BENCH_LINKS=50000    blocking links in the workflow repository (default BENCH_TASKS/2)
#   BENCH_TMPFS=0        skip repeating figure 1 on /dev/shm
#   BENCH_PROV_COMMITS=10000  attested commits under the pushed ones (provenance)
#   BENCH_PROV_RANGE=1000     attested commits for the verify throughput figure
#   BENCH_GATEWAY_SAMPLES=50  gateway and CLI calls timed each (gateway report)
#   BENCH_GATEWAY_LOAD=50x200 clients x requests of the gateway load run
#   BENCH_MCP_CALLS=100       MCP tool calls (and CLI runs) of each kind timed
#   BENCH_MEMORIES=100000     memories for the memory search figure
# Repositories are made in a temporary directory and removed afterwards.
set -e
cd "$(dirname "$0")/.."
bin="${BIN:-bin/git-covenant}"
if [ ! -x "$bin" ]; then
	echo "bench: $bin not found; run make build first" >&2
	exit 1
fi
"${GO:-go}" run ./internal/benchcmd -bin "$bin" "$@"

# Sync: whole `git covenant sync` runs next to git fetch of the same remote
# (BENCH_SYNC_OPS=10000 new ops), then the randomized convergence test at a
# large size (BENCH_SYNC_SEEDS seeds of BENCH_SYNC_RANDOM random ops).
echo
"${GO:-go}" run ./internal/syncbench -bin "$bin"
GIT_COVENANT_SYNC_SEEDS="${BENCH_SYNC_SEEDS:-10}" GIT_COVENANT_SYNC_OPS="${BENCH_SYNC_RANDOM:-150}" \
	"${GO:-go}" test -count=1 -run '^TestRandomConvergence$' ./remote/

# Workflow and trust: task ready / task show over BENCH_TASKS tasks with
# BENCH_LINKS blocking links, full verification throughput against raw
# ed25519 on the same cores, and incremental verify of 10 new ops.
echo
"${GO:-go}" run ./internal/workbench -bin "$bin"

# Provenance: pre-push verification of 10 new commits on BENCH_PROV_COMMITS
# (10000) attested commits, by `verify <range>` and by the installed hook,
# and verify throughput over BENCH_PROV_RANGE (1000) attested commits.
echo
"${GO:-go}" run ./internal/provbench -bin "$bin"

# Daemon (issue 12): a task created through another handle (its feed ref
# moved) to the agent process started, p50/p99 over BENCH_DAEMON_RUNS (100)
# tasks, next to a `git update-ref` process timed in the same run.
echo
DAEMON_BENCH_RUNS="${BENCH_DAEMON_RUNS:-100}" "${GO:-go}" test -count=1 -v -run '^TestDispatchLatencyReport$' ./daemon/ | grep '^| ref change'

# Gateway (issue 13): task show and task comment through the HTTP gateway
# next to the same command through the CLI (BENCH_GATEWAY_SAMPLES=50 each,
# interleaved), the delay from a feed ref update by another handle to its
# event on the stream, then the load run: BENCH_GATEWAY_LOAD=50x200
# (clients x mixed requests, at most 60 s) against one gateway.
echo
GATEWAY_BENCH="${BENCH_GATEWAY_SAMPLES:-50}" "${GO:-go}" test -count=1 -v -run '^TestGatewayReport$' ./gateway/ | grep '^| '
GATEWAY_LOAD="${BENCH_GATEWAY_LOAD:-50x200}" "${GO:-go}" test -count=1 -v -timeout 20m -run '^TestGatewayLoad$' ./gateway/ | grep '^| gateway load'

# MCP (issue 13): tools/list size (grouped, flat, read-only), and a read and
# a write tool call over stdio to one `git covenant mcp` process next to the
# same operation as a CLI process, p50/p99 over BENCH_MCP_CALLS (100) each.
echo
MCP_BENCH_CALLS="${BENCH_MCP_CALLS:-100}" "${GO:-go}" test -count=1 -v -run '^TestMCPRoundTripReport$' ./mcpserver/ | grep '^| '

# Memory and secrets (issue 14): `memory search` as a whole process over
# BENCH_MEMORIES (100000) memories next to `memory show` and a git process,
# and the secret rules' cost per KiB next to one lower-casing pass.
echo
"${GO:-go}" run ./internal/membench -bin "$bin"
# Settlement (issue 15): an RFC 6962 tree over 100,000 receipts (build),
# one inclusion proof made and verified, and verify alone, next to a floor
# of one SHA-256 per receipt's canonical bytes in the same run.
echo
"${GO:-go}" test -run '^$' -bench '100k$' -benchtime 3x ./settle/ | grep '^Benchmark'
