#!/usr/bin/env bash
# System calls per request of each proxy under the benchmark's load: starts the
# backends and each contender exactly as bench/run.sh does, attaches `strace -c -f`
# for one `wrk -t1 -c64` run and divides each system call's count by the requests
# wrk completed. Counts, not times: strace slows every call, so the req/s of these
# runs mean nothing, but what a proxy asks of the kernel per request does not change.
# Not part of `make bench`; for finding out whether a proxy does more kernel work.
#
# Environment: CONTENDERS [haproxy-http nginx turnout-http haproxy-tcp turnout-tcp],
# DURATION [3s], MIN_PER_REQ [0.005] (rarer calls are summed into "other").
# Output: a table on stdout; raw strace and wrk output in bench/out/<timestamp>-syscalls/.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_init

CONTENDERS=${CONTENDERS:-"haproxy-http nginx turnout-http haproxy-tcp turnout-tcp"}
DURATION=${DURATION:-3s}
MIN_PER_REQ=${MIN_PER_REQ:-0.005}

cd "$REPO_ROOT"
OUT=$BENCH_DIR/out/$(date +%Y%m%d-%H%M%S)-syscalls
mkdir -p "$OUT"
ensure_packages haproxy nginx wrk curl strace
build_tools
TURNOUT_STATUS="not requested"
if [[ " $CONTENDERS " == *" turnout-"* ]]; then
	build_turnout "$OUT/turnout-build.log" || die "$TURNOUT_STATUS"
fi
start_backends "$OUT"

for name in $CONTENDERS; do
	d=$OUT/$name
	mkdir -p "$d"
	start_contender "$name" "$d" || die "$name did not start (see $d)"
	[[ -n $CPID ]] || die "$name: no process to trace"
	run_wrk "$d/warmup.txt" 64 2s "$URL"
	# Every process of the contender (nginx: master and workers), every thread.
	pids=()
	for p in $(tree_pids "$CPID"); do pids+=(-p "$p"); done
	strace -c -f -o "$d/strace.txt" "${pids[@]}" 2>"$d/strace.log" &
	SPID=$!
	# strace is attached once it names a thread as attached in its log.
	for ((i = 0; i < 100; i++)); do
		grep -q 'attached' "$d/strace.log" 2>/dev/null && break
		sleep 0.05
	done
	run_wrk "$d/wrk.txt" 64 "$DURATION" "$URL"
	kill -INT "$SPID"
	wait "$SPID" 2>/dev/null || true
	stop_pid "$CPID"
	requests=$(parse_wrk "$d/wrk.txt" | cut -f2)
	echo "$requests" >"$d/requests.txt"
	log "$name: $requests requests traced"
done

# strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall.
printf '%-14s %9s %8s  %s\n' contender requests "calls/req" "per request, most frequent first"
for name in $CONTENDERS; do
	d=$OUT/$name
	awk -v n="$(cat "$d/requests.txt")" -v min="$MIN_PER_REQ" -v name="$name" '
	$1 ~ /^[0-9.]+$/ && $NF != "total" { k++; sys[k] = $NF; calls[k] = $4; total += $4 }
	END {
		if (n + 0 == 0) { printf "%-14s %9s\n", name, "no requests"; exit }
		for (i = 1; i <= k; i++)   # most frequent first (mawk has no sort)
			for (j = i + 1; j <= k; j++)
				if (calls[j] > calls[i]) { t = calls[i]; calls[i] = calls[j]; calls[j] = t; t = sys[i]; sys[i] = sys[j]; sys[j] = t }
		line = ""; other = 0
		for (i = 1; i <= k; i++) {
			if (calls[i] / n >= min) line = line sprintf("%s %.3f, ", sys[i], calls[i] / n)
			else other += calls[i]
		}
		printf "%-14s %9d %8.2f  %sother %.3f\n", name, n, total / n, line, other / n
	}' "$d/strace.txt"
done | tee "$OUT/summary.txt"
log "raw output: $OUT"
