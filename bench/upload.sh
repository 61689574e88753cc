#!/usr/bin/env bash
# Uploads: one request body of UPLOAD_SIZE bytes (1 GiB), streamed through each
# contender to the origin, with Content-Length and then chunked, on a new
# connection each. Measures MiB/s (bench/bin/upload: from its first byte sent to
# the last byte of the answer), the proxy's CPU and its peak memory (VmHWM, from
# /proc/PID/status, summed over nginx's processes). Run by `make bench` after
# bench/run.sh; runnable alone. Raw output goes to bench/out/<timestamp>-upload/,
# the summary to docs/performance.md (with the newest run and reload results).
#
# The origin is bench/bin/backend (POST /upload: reads the body into a 256 KiB
# buffer, discards it, answers the count; bench/bin/upload fails unless the count
# is UPLOAD_SIZE). nginx buffers request bodies to disk by default and refuses
# bodies over 1 MiB: here it gets `proxy_request_buffering off; client_max_body_size 0;`
# so that it streams, like the others. HAProxy streams with its defaults.
# Turnout's event loops hand a body over 64 KiB or chunked to the goroutine path,
# so turnout-http and turnout-goroutine-http move the body with the same code.
#
# Environment (defaults in brackets):
#   REPS [4]             repetitions; contenders in CONTENDERS order on odd ones,
#                        reversed on even ones (as bench/run.sh)
#   UPLOAD_SIZE [1073741824]  body bytes
#   UPLOAD_WRITE [65536] bytes per client write; with chunked, per chunk
#   MODES [length chunked]
#   CONTENDERS [direct haproxy-http nginx turnout-http turnout-goroutine-http]
#   TURNOUT_BASELINE     another turnout binary (say, built from main): adds the
#                        contenders baseline-http and baseline-goroutine-http, so
#                        that a change is measured against it in the same run;
#                        TURNOUT_BASELINE_LABEL says what it is (for the doc)
#   UPLOAD_PORT_BASE [19300]  ports: backends +1/+2, HAProxy +11, nginx +12, Turnout
#                        +19 (and a TCP gateway on +20), its admin on +80; not the
#                        ports of bench/run.sh, so that both can run on one machine
#   PINNED [0], DOC [docs/performance.md], TURNOUT_BUILD [1] as in bench/run.sh
#
# Short development run:
#   REPS=1 UPLOAD_SIZE=268435456 CONTENDERS="haproxy-http turnout-http" DOC=/tmp/perf.md bash bench/upload.sh
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_init

REPS=${REPS:-4}
UPLOAD_SIZE=${UPLOAD_SIZE:-1073741824}
UPLOAD_WRITE=${UPLOAD_WRITE:-65536}
MODES=${MODES:-"length chunked"}
CONTENDERS=${CONTENDERS:-"direct haproxy-http nginx turnout-http turnout-goroutine-http"}
TURNOUT_BASELINE=${TURNOUT_BASELINE:-}
if [[ -n $TURNOUT_BASELINE ]]; then
	[[ -x $TURNOUT_BASELINE ]] || die "TURNOUT_BASELINE=$TURNOUT_BASELINE is not an executable"
	TURNOUT_BASELINE=$(realpath "$TURNOUT_BASELINE")
	[[ " $CONTENDERS " == *" baseline-"* ]] || CONTENDERS="$CONTENDERS baseline-http baseline-goroutine-http"
fi
use_upload_ports
# nginx streams request bodies only with these (see above)
# shellcheck disable=SC2034 # used by write_nginx_conf
NGINX_LOCATION_EXTRA=("proxy_request_buffering off;" "client_max_body_size 0;")

cd "$REPO_ROOT"
OUT=$BENCH_DIR/out/$(date +%Y%m%d-%H%M%S)-upload
mkdir -p "$OUT"
log "output: $OUT"

ensure_packages haproxy nginx curl
build_tools
TURNOUT_STATUS="not requested" TURNOUT_SHA=""
if [[ " $CONTENDERS " == *" turnout-"* || " $CONTENDERS " == *" baseline-"* ]]; then
	build_turnout "$OUT/turnout-build.log" || true
fi
machine_info >"$OUT/machine.txt"
{
	echo "REPS=$REPS"
	echo "UPLOAD_SIZE=$UPLOAD_SIZE"
	echo "UPLOAD_WRITE=$UPLOAD_WRITE"
	echo "MODES=$MODES"
	echo "CONTENDERS=$CONTENDERS"
	echo "UPLOAD_PORT_BASE=$UPLOAD_PORT_BASE"
	echo "PINNED=$PINNED"
	echo "PROXY_THREADS=$PROXY_THREADS"
	echo "CLK_TCK=$CLK_TCK"
	echo "TURNOUT=$TURNOUT_STATUS"
	echo "TURNOUT_SHA256=${TURNOUT_SHA:-}"
	if [[ -n $TURNOUT_BASELINE ]]; then
		echo "TURNOUT_BASELINE=$TURNOUT_BASELINE"
		echo "TURNOUT_BASELINE_SHA256=$(sha256sum "$TURNOUT_BASELINE" | cut -c1-12)"
		echo "TURNOUT_BASELINE_LABEL=${TURNOUT_BASELINE_LABEL:-}"
	fi
	echo "STARTED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.env"

start_backends "$OUT"

TSV=$OUT/upload.tsv
printf 'rep\tcontender\tmode\tbytes\tseconds\tmib_s\tstatus\treceived\tproxy_ticks\tbackend_ticks\tclient_cpu_s\tproxy_reads\tproxy_writes\trss_start_kb\trss_peak_kb\tok\n' >"$TSV"
printf 'rep\tcontender\treason\n' >"$OUT/skipped.tsv"

# mem_kb FIELD PID: /proc/PID/status FIELD (VmRSS, VmHWM) in kB, summed over PID and
# its descendants (nginx: master and workers).
mem_kb() {
	local field=$1 root=$2 pid total=0 v
	for pid in $(tree_pids "$root"); do
		v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$pid/status" 2>/dev/null) || v=0
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# io_calls PID: "<read calls> <write calls>" of PID and its descendants so far
# (/proc/PID/io syscr and syscw: every read/write-like system call, whatever its size).
io_calls() {
	local pid r=0 w=0 a b
	for pid in $(tree_pids "$1"); do
		read -r a b < <(awk '$1 == "syscr:" {r = $2} $1 == "syscw:" {w = $2} END {print r + 0, w + 0}' "/proc/$pid/io" 2>/dev/null) || continue
		r=$((r + a)) w=$((w + b))
	done
	echo "$r $w"
}

# start_upload_contender NAME DIR: start_contender, with baseline-* running
# TURNOUT_BASELINE as the turnout-* of the same name.
start_upload_contender() {
	local name=$1 d=$2
	if [[ $name == baseline-* ]]; then
		local saved=$TURNOUT_BIN rc=0
		TURNOUT_BIN=$TURNOUT_BASELINE
		start_contender "turnout-${name#baseline-}" "$d" || rc=$?
		TURNOUT_BIN=$saved
		return $rc
	fi
	start_contender "$name" "$d"
}

measure_contender() {
	local rep=$1 name=$2
	local d=$OUT/rep$rep/$name rc=0
	mkdir -p "$d"
	log "rep $rep/$REPS: $name"
	SKIP_REASON=
	start_upload_contender "$name" "$d" || rc=$?
	if ((rc == 2)); then
		log "  skipped: $SKIP_REASON"
		printf '%s\t%s\t%s\n' "$rep" "$name" "$SKIP_REASON" >>"$OUT/skipped.tsv"
		return 0
	elif ((rc != 0)); then
		[[ -n $CPID ]] && stop_pid "$CPID"
		die "$name did not start (see $d)"
	fi
	local url=${URL}upload rss0=NA
	[[ -n $CPID ]] && rss0=$(mem_kb VmRSS "$CPID")
	# Warm-up: a small upload of each kind (first connections, buffers, pools).
	local mode
	for mode in $MODES; do
		"${LOAD_PIN[@]}" "$BENCH_BIN/upload" -url "$url" -size $((16 << 20)) -write "$UPLOAD_WRITE" \
			$([[ $mode == chunked ]] && echo -chunked) >>"$d/warmup.txt" 2>&1 || true
	done
	local rows=() oks=()
	for mode in $MODES; do
		local f=$d/upload-$mode.txt ptick0=0 ptick1=0 btick0 btick1 ok=1 io0="NA NA" io1="NA NA"
		btick0=$(cpu_ticks "${BACKEND_PIDS[@]}")
		[[ -n $CPID ]] && ptick0=$(cpu_ticks "$CPID") io0=$(io_calls "$CPID")
		"${LOAD_PIN[@]}" "$BENCH_BIN/upload" -url "$url" -size "$UPLOAD_SIZE" -write "$UPLOAD_WRITE" \
			$([[ $mode == chunked ]] && echo -chunked) >"$f" 2>&1 || ok=0
		[[ -n $CPID ]] && ptick1=$(cpu_ticks "$CPID") io1=$(io_calls "$CPID")
		btick1=$(cpu_ticks "${BACKEND_PIDS[@]}")
		local line ptick=NA preads=NA pwrites=NA r0 w0 r1 w1
		read -r r0 w0 <<<"$io0"
		read -r r1 w1 <<<"$io1"
		[[ "$r0$w0$r1$w1" =~ ^[0-9]+$ ]] && preads=$((r1 - r0)) pwrites=$((w1 - w0))
		line=$(grep -m1 '^bytes=' "$f" || true)
		[[ -n $CPID ]] && ptick=$((ptick1 - ptick0))
		kv() { local v; v=$(grep -o "$1=[^ ]*" <<<"$line" | cut -d= -f2); echo "${v:-NA}"; }
		rows+=("$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$rep" "$name" "$mode" "$UPLOAD_SIZE" \
			"$(kv seconds)" "$(kv mib_s)" "$(kv status)" "$(kv received)" "$ptick" "$((btick1 - btick0))" "$(kv client_cpu_s)" "$preads" "$pwrites")")
		oks+=("$ok")
		log "  $mode: $(kv mib_s) MiB/s in $(kv seconds) s, status $(kv status), proxy ticks $ptick, proxy reads/writes $preads/$pwrites$( ((ok)) || echo " FAILED: $(grep -v '^bytes=' "$f" | head -1)")"
	done
	local peak=NA
	[[ -n $CPID ]] && peak=$(mem_kb VmHWM "$CPID")
	local i
	for i in "${!rows[@]}"; do
		printf '%s\t%s\t%s\t%s\n' "${rows[i]}" "$rss0" "$peak" "${oks[i]}" >>"$TSV"
	done
	log "  proxy memory: VmRSS ${rss0} kB after start, VmHWM ${peak} kB after the uploads"
	[[ -n $CPID ]] && stop_pid "$CPID"
	return 0
}

read -ra forward <<<"$CONTENDERS"
for ((rep = 1; rep <= REPS; rep++)); do
	order=("${forward[@]}")
	if ((rep % 2 == 0)); then
		order=()
		for ((i = ${#forward[@]} - 1; i >= 0; i--)); do order+=("${forward[i]}"); done
	fi
	for c in "${order[@]}"; do
		measure_contender "$rep" "$c"
	done
done

finish_out upload
log "done: $OUT"
