#!/usr/bin/env bash
# User-space instructions per HTTP request of bin/turnout (the 50/50 gateway of
# bench/run.sh), counted by valgrind's callgrind. The count is deterministic where
# timings on a shared machine are not, so it shows what a change to the request
# path costs. Kernel work (the system calls) is not counted. Not part of `make bench`.
#
# Environment: N [4000] requests counted (after 500 to warm the pools).
# Output: bench/out/<timestamp>-instructions/{callgrind.out.*,turnout.log}
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_init

N=${N:-4000}
cd "$REPO_ROOT"
OUT=$BENCH_DIR/out/$(date +%Y%m%d-%H%M%S)-instructions
mkdir -p "$OUT"
ensure_packages valgrind curl
build_tools
build_turnout "$OUT/turnout-build.log" || die "$TURNOUT_STATUS"
start_backends "$OUT"
write_turnout_gateways "$OUT/gateways.yaml" 50 50 "$PORT_TURNOUT_HTTP" "$PORT_TURNOUT_TCP"

# Go's signal-based preemption trips callgrind up; it is off for the count.
GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
	"$TURNOUT_BIN" serve -f "$OUT/gateways.yaml" --data-dir "" --admin "$TURNOUT_ADMIN" --bind 127.0.0.1 \
	>"$OUT/turnout.log" 2>&1 &
VG=$!
BENCH_PIDS+=("$VG")
URL=http://127.0.0.1:$PORT_TURNOUT_HTTP/
wait_http "$URL" 60 "$VG" || die "turnout under valgrind does not answer on $URL (see $OUT/turnout.log)"

"$BENCH_BIN/splitcount" -url "$URL" -n 500 -c 4 >/dev/null
callgrind_control -z "$VG" >/dev/null
"$BENCH_BIN/splitcount" -url "$URL" -n "$N" -c 4 >/dev/null
callgrind_control -d "$VG" >/dev/null
total=$(grep -h '^totals:' "$OUT"/callgrind.out.* | awk '{s += $2} END {print s}')
echo "turnout: $((total / N)) user-space instructions per request ($N requests, callgrind)"
