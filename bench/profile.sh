#!/usr/bin/env bash
# CPU profile of Turnout under the benchmark's load: starts the two backends and
# `bin/turnout serve` exactly as bench/run.sh does, runs `wrk -t1 -c64` against the
# HTTP (or TCP) gateway and meanwhile takes an 8-s profile from the admin port's
# /debug/pprof/profile. Prints the top of `go tool pprof -top`. Not part of `make bench`
# (a profile perturbs the numbers); for finding out where the time goes.
#
# PROTO=upload: instead of wrk, uploads of UPLOAD_SIZE bytes [1 GiB] one after the other
# (bench/bin/upload, UPLOAD_MODE length or chunked [length]) to the HTTP gateway.
#
# Environment: PROTO [http] (or tcp, upload), PROF_SECONDS [8], TOP [30], PINNED [0].
# Output: bench/out/<timestamp>-profile/{cpu.pprof,top.txt,wrk.txt}
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_init

PROTO=${PROTO:-http}
PROF_SECONDS=${PROF_SECONDS:-8}
TOP=${TOP:-30}

[[ $PROTO == upload ]] && use_upload_ports
cd "$REPO_ROOT"
OUT=$BENCH_DIR/out/$(date +%Y%m%d-%H%M%S)-profile
mkdir -p "$OUT"
ensure_packages wrk curl
build_tools
build_turnout "$OUT/turnout-build.log" || die "$TURNOUT_STATUS"
start_backends "$OUT"
write_turnout_gateways "$OUT/gateways.yaml" 50 50 "$PORT_TURNOUT_HTTP" "$PORT_TURNOUT_TCP"
start_turnout "$OUT" "$OUT/gateways.yaml" --pprof || die "turnout serve did not become healthy (see $OUT/turnout.log)"
TPID=$LAST_PID
port=$PORT_TURNOUT_HTTP
[[ $PROTO == tcp ]] && port=$PORT_TURNOUT_TCP
URL=http://127.0.0.1:$port/
wait_http "$URL" 20 "$TPID" || die "turnout does not answer on $URL"

if [[ $PROTO == upload ]]; then
	upload_args=(-url "${URL}upload" -size "${UPLOAD_SIZE:-1073741824}")
	[[ ${UPLOAD_MODE:-length} == chunked ]] && upload_args+=(-chunked)
	"$BENCH_BIN/upload" "${upload_args[@]}" -size $((64 << 20)) >"$OUT/warmup.txt" 2>&1
	# uploads until the profile is taken (the loop's file tells it to stop)
	touch "$OUT/uploading"
	(while [[ -f $OUT/uploading ]]; do "${LOAD_PIN[@]}" "$BENCH_BIN/upload" "${upload_args[@]}" || break; done) >"$OUT/uploads.txt" 2>&1 &
	WRK=$!
	BENCH_PIDS+=("$WRK")
	code=$(curl -sS -o "$OUT/cpu.pprof" -w '%{http_code}' --max-time $((PROF_SECONDS + 10)) \
		"http://$TURNOUT_ADMIN/debug/pprof/profile?seconds=$PROF_SECONDS") || code=000
	rm -f "$OUT/uploading"
	wait "$WRK" || true
	[[ $code == 200 ]] || die "no profile: GET http://$TURNOUT_ADMIN/debug/pprof/profile answered $code"
	go tool pprof -top "$TURNOUT_BIN" "$OUT/cpu.pprof" 2>/dev/null | head -n $((TOP + 6)) | tee "$OUT/top.txt"
	echo
	echo "uploads during the profile (MiB/s): $(grep -o 'mib_s=[^ ]*' "$OUT/uploads.txt" | cut -d= -f2 | tr '\n' ' ')(profiling costs some)"
	log "profile: $OUT/cpu.pprof (go tool pprof -http=: $TURNOUT_BIN $OUT/cpu.pprof)"
	exit 0
fi

run_wrk "$OUT/warmup.txt" 64 2s "$URL"
"${LOAD_PIN[@]}" wrk -t1 -c64 -d"$((PROF_SECONDS + 2))s" --latency "$URL" >"$OUT/wrk.txt" 2>&1 &
WRK=$!
BENCH_PIDS+=("$WRK")
code=$(curl -sS -o "$OUT/cpu.pprof" -w '%{http_code}' --max-time $((PROF_SECONDS + 10)) \
	"http://$TURNOUT_ADMIN/debug/pprof/profile?seconds=$PROF_SECONDS") || code=000
wait "$WRK" || true
if [[ $code != 200 ]]; then
	die "no profile: GET http://$TURNOUT_ADMIN/debug/pprof/profile answered $code (pprof not exposed on the admin port?)"
fi
go tool pprof -top "$TURNOUT_BIN" "$OUT/cpu.pprof" 2>/dev/null | head -n $((TOP + 6)) | tee "$OUT/top.txt"
echo
echo "wrk during the profile: $(parse_wrk "$OUT/wrk.txt" | cut -f1) req/s (profiling costs some)"
log "profile: $OUT/cpu.pprof (go tool pprof -http=: $TURNOUT_BIN $OUT/cpu.pprof)"
