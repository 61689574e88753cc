#!/usr/bin/env bash
# Throughput and latency of a 50/50 split through Turnout, HAProxy and nginx, and
# straight to one backend, on this machine in one run. Entry point of `make bench`
# (followed by bench/reload.sh). Writes raw output to bench/out/<timestamp>-run/ and
# the summary to docs/performance.md.
#
# Environment (defaults in brackets):
#   REPS [4]          repetitions; each runs every contender once, in the order of
#                     CONTENDERS on odd repetitions and in reverse on even ones, so
#                     no contender always runs right after the same one (the
#                     machine drifts within a run) and an even REPS balances the two
#   DURATION [10s]    each measured wrk run (c64, then c8)
#   WARMUP [2s]       wrk -c64 warm-up before the measured runs
#   CONTENDERS        [direct haproxy-http nginx turnout-http turnout-goroutine-http turnout-plugins haproxy-tcp turnout-tcp]
#                     turnout-goroutine-http: turnout-http with --goroutine-http (a
#                     goroutine per connection, fasthttp's server, instead of the event loops)
#                     turnout-plugins: turnout-http's split, but its two routes are
#                     resolved by a backend plugin process (docs/examples/backend-file)
#   SPLIT_N [2000]    requests of the split sample (bench/bin/splitcount)
#   PINNED [0]        1: load (wrk, splitcount, backends) on CPU 0, contender on CPU 1,
#                     one proxy thread
#   DOC               where the summary goes [docs/performance.md]
#   TURNOUT_BUILD [1] 0: measure the bin/turnout that is there instead of building it
#   PORT_BACKEND_A [19001], PORT_BACKEND_B [19002], PORT_HAPROXY_HTTP [19101],
#   PORT_NGINX [19102], PORT_HAPROXY_TCP [19104], PORT_TURNOUT_HTTP [19109],
#   PORT_TURNOUT_TCP [19110], PORT_TURNOUT_ADMIN [19180]
#                     the ports, all on 127.0.0.1 (see lib/common.sh)
#
# Short development run:  REPS=1 DURATION=3s WARMUP=1s CONTENDERS="direct haproxy-http" bench/run.sh
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_init

REPS=${REPS:-4}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONTENDERS=${CONTENDERS:-"direct haproxy-http nginx turnout-http turnout-goroutine-http turnout-plugins haproxy-tcp turnout-tcp"}
SPLIT_N=${SPLIT_N:-2000}

cd "$REPO_ROOT"
OUT=$BENCH_DIR/out/$(date +%Y%m%d-%H%M%S)-run
mkdir -p "$OUT"
log "output: $OUT"

ensure_packages haproxy nginx wrk curl
build_tools
TURNOUT_STATUS="not requested" TURNOUT_SHA=""
if [[ " $CONTENDERS " == *" turnout-"* ]]; then
	build_turnout "$OUT/turnout-build.log" || true
fi
machine_info >"$OUT/machine.txt"
{
	echo "REPS=$REPS"
	echo "DURATION=$DURATION"
	echo "WARMUP=$WARMUP"
	echo "CONTENDERS=$CONTENDERS"
	echo "SPLIT_N=$SPLIT_N"
	echo "PINNED=$PINNED"
	echo "PROXY_THREADS=$PROXY_THREADS"
	echo "CLK_TCK=$CLK_TCK"
	echo "TURNOUT=$TURNOUT_STATUS"
	echo "TURNOUT_SHA256=${TURNOUT_SHA:-}"
	ports_env
	echo "STARTED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.env"

start_backends "$OUT"

TSV=$OUT/run.tsv
printf 'rep\tcontender\tproto\tload\trps\trequests\tp50_us\tp99_us\tsocket_errors\tnon2xx\terrors_cwrt\tproxy_ticks\tbackend_ticks\twrk_cpu_s\tb1\tb2\tsample_b1_pct\tsample_errors\n' >"$TSV"
printf 'rep\tcontender\treason\n' >"$OUT/skipped.tsv"

measure_contender() {
	local rep=$1 name=$2
	local d=$OUT/rep$rep/$name rc=0
	mkdir -p "$d"
	log "rep $rep/$REPS: $name"
	SKIP_REASON=
	start_contender "$name" "$d" || rc=$?
	if ((rc == 2)); then
		log "  skipped: $SKIP_REASON"
		printf '%s\t%s\t%s\n' "$rep" "$name" "$SKIP_REASON" >>"$OUT/skipped.tsv"
		return 0
	elif ((rc != 0)); then
		[[ -n $CPID ]] && stop_pid "$CPID"
		die "$name did not start (see $d)"
	fi

	run_wrk "$d/warmup.txt" 64 "$WARMUP" "$URL"

	local split sample_pct sample_err
	split=$("${LOAD_PIN[@]}" "$BENCH_BIN/splitcount" -url "$URL" -n "$SPLIT_N" -c 4 ${NEWCONN:+-newconn}) || split="total=$SPLIT_N errors=$SPLIT_N b1_pct=NA"
	echo "$split" >"$d/split.txt"
	sample_pct=$(grep -o 'b1_pct=[^ ]*' <<<"$split" | cut -d= -f2)
	sample_err=$(grep -o 'errors=[^ ]*' <<<"$split" | cut -d= -f2)
	[[ $name == direct ]] && sample_pct=NA
	log "  split sample: $split"

	local conns
	for conns in 64 8; do
		local before after ptick0=0 ptick1=0 btick0 btick1 f=$d/wrk-c$conns.txt
		before=$(backend_counts)
		btick0=$(cpu_ticks "${BACKEND_PIDS[@]}")
		[[ -n $CPID ]] && ptick0=$(cpu_ticks "$CPID")
		run_wrk "$f" "$conns" "$DURATION" "$URL"
		[[ -n $CPID ]] && ptick1=$(cpu_ticks "$CPID")
		btick1=$(cpu_ticks "${BACKEND_PIDS[@]}")
		after=$(backend_counts)
		local b1 b2 ptick=NA
		read -r a0 b0 <<<"$before"
		read -r a1 b1x <<<"$after"
		if [[ "$a0$b0$a1$b1x" =~ ^[0-9]+$ ]]; then
			b1=$((a1 - a0)) b2=$((b1x - b0))
		else
			b1=NA b2=NA
		fi
		[[ -n $CPID ]] && ptick=$((ptick1 - ptick0))
		local w
		w=$(parse_wrk "$f")
		printf '%s\t%s\t%s\tc%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
			"$rep" "$name" "$PROTO" "$conns" "$w" "$ptick" "$((btick1 - btick0))" "$(wrk_cpu "$f")" \
			"$b1" "$b2" "$sample_pct" "$sample_err" >>"$TSV"
		log "  c$conns: $(cut -f1,3,4,5,6 <<<"$w" | awk -F'\t' '{printf "%s req/s, p50 %s us, p99 %s us, %s socket errors, %s non-2xx", $1, $2, $3, $4, $5}'), proxy ticks $ptick"
	done
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

finish_out run
log "done: $OUT"
