#!/usr/bin/env bash
# Cluster mode (issue 15): how fast a change through one agent's API reaches
# traffic on the others, with three real agents on one real ZooKeeper
# (TestClusterConvergenceBench in cmd/turnout), and the store's write rate,
# bolt against ZooKeeper (BenchmarkStoreWrite in core/store). Run by
# `make bench-cluster` (and `make bench`); runnable alone. Raw output goes to
# bench/out/<timestamp>-cluster/, its section of docs/performance.md is
# replaced (the rest of the page is kept).
#
# Needs Debian's zookeeper package (apt-get install zookeeper) and java.
#
# Environment (defaults in brackets):
#   CHANGES [200]          changes through agent A
#   STORE_BENCHTIME [2s]   -benchtime of BenchmarkStoreWrite, run STORE_COUNT [3] times
#   NOTE                   a sentence for the doc (say, what else loaded the machine)
#   DOC [docs/performance.md]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

CHANGES=${CHANGES:-200}
STORE_BENCHTIME=${STORE_BENCHTIME:-2s}
STORE_COUNT=${STORE_COUNT:-3}
[[ $CHANGES =~ ^[1-9][0-9]*$ ]] || die "CHANGES=$CHANGES: want a number of changes, 1 or more"
[[ -f /usr/share/java/zookeeper.jar || -n ${ZOOKEEPER_JAR:-} ]] || die "ZooKeeper is not installed: apt-get install zookeeper"

cd "$REPO_ROOT"
OUT=$BENCH_DIR/out/$(date +%Y%m%d-%H%M%S)-cluster
mkdir -p "$OUT"
log "output: $OUT"
build_tools
{
	echo "STARTED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "NPROC=$(nproc)"
	echo "GIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "CHANGES=$CHANGES"
	[[ -n ${NOTE:-} ]] && echo "NOTE=$NOTE"
} >"$OUT/meta.env"

log "change to traffic: $CHANGES changes across 3 agents"
# Without -race: the delays are turnout's, not the race detector's.
TURNOUT_BENCH_CHANGES=$CHANGES TURNOUT_BENCH_OUT=$OUT/convergence.txt \
	go test -run '^TestClusterConvergenceBench$' -count 1 -v -timeout 20m ./cmd/turnout/ >"$OUT/convergence.log" 2>&1 ||
	die "TestClusterConvergenceBench failed: $OUT/convergence.log"
cat "$OUT/convergence.txt" >&2

log "store writes: bolt against ZooKeeper"
go test -run '^$' -bench StoreWrite -benchtime "$STORE_BENCHTIME" -count "$STORE_COUNT" ./core/store/ | tee "$OUT/store-bench.txt" >&2

{
	echo "FINISHED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$OUT/meta.env"
touch "$OUT/done"
ln -sfn "$(basename "$OUT")" "$BENCH_DIR/out/last-cluster"
doc=${DOC:-$REPO_ROOT/docs/performance.md}
"$BENCH_BIN/summarize" -cluster "$OUT" -o "$doc"
log "wrote the cluster section of $doc"
