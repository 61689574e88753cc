#!/usr/bin/env bash
# Weight changes under load: wrk runs against one listener while the weights of its
# 50/50 split change every second, and every failed request is counted. Run by
# `make bench` after bench/run.sh; runnable alone. Raw output goes to
# bench/out/<timestamp>-reload/, the summary to docs/performance.md (together with the
# newest bench/run.sh result).
#
# Methods (METHODS, in this order by default: none sf api nginx turnout):
#   none     HAProxy, no change at all (the baseline of this run)
#   sf       HAProxy: new config, new process `haproxy -db -f CFG -sf OLDPID`
#   api      HAProxy runtime API: `set server be/b1 weight N` via socat, no reload
#   nginx    nginx: new config, `kill -HUP` to the master (weight 0 = `down`)
#   turnout  Turnout: gateways file rewritten atomically (temp + rename), `kill -HUP`
#
# Environment: REPS [3], METHODS, CHANGES [20], INTERVAL [1] (seconds between changes),
# LOAD_DURATION [23s] (wrk -d), WARMUP [1s], PINNED [0], DOC [docs/performance.md].
# TURNOUT_BUILD=0 measures the bin/turnout that is there (as built by bench/run.sh).
# Ports: PORT_RELOAD [19201] (every method's listener), PORT_BACKEND_A [19001],
# PORT_BACKEND_B [19002], PORT_TURNOUT_ADMIN [19180] (see lib/common.sh).
# Short development run:  REPS=1 CHANGES=4 LOAD_DURATION=6s METHODS="api turnout" bench/reload.sh
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_init

REPS=${REPS:-3}
METHODS=${METHODS:-"none sf api nginx turnout"}
CHANGES=${CHANGES:-20}
INTERVAL=${INTERVAL:-1}
LOAD_DURATION=${LOAD_DURATION:-23s}
WARMUP=${WARMUP:-1s}
PORT=$PORT_RELOAD
URL=http://127.0.0.1:$PORT/

# The weight sequence after change k (k = 1..CHANGES): 90/10, 0/100, 50/50, 90/10, ...
SEQ_A=(90 0 50)
SEQ_B=(10 100 50)

cd "$REPO_ROOT"
OUT=$BENCH_DIR/out/$(date +%Y%m%d-%H%M%S)-reload
mkdir -p "$OUT"
log "output: $OUT"

ensure_packages haproxy nginx wrk curl socat
build_tools
TURNOUT_STATUS="not requested" TURNOUT_SHA=""
if [[ " $METHODS " == *" turnout "* ]]; then
	build_turnout "$OUT/turnout-build.log" || true
fi
machine_info >"$OUT/machine.txt"
{
	echo "REPS=$REPS"
	echo "METHODS=$METHODS"
	echo "CHANGES=$CHANGES"
	echo "INTERVAL=$INTERVAL"
	echo "LOAD_DURATION=$LOAD_DURATION"
	echo "WARMUP=$WARMUP"
	echo "PORT=$PORT"
	echo "PINNED=$PINNED"
	echo "PROXY_THREADS=$PROXY_THREADS"
	echo "TURNOUT=$TURNOUT_STATUS"
	echo "TURNOUT_SHA256=${TURNOUT_SHA:-}"
	ports_env
	[[ $TURNOUT_STATUS == built ]] || echo "SKIPPED_turnout=$TURNOUT_STATUS"
	echo "STARTED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.env"

start_backends "$OUT"

printf 'rep\tmethod\trps\trequests\tp50_us\tp99_us\tsocket_errors\tnon2xx\terrors_cwrt\tchanges\tapply_failures\n' >"$OUT/reload.tsv"
printf 'rep\tmethod\tphase\tweight_a\tweight_b\tb1\tb2\tt_ms\tapply_ms\n' >"$OUT/phases.tsv"

# ---------------------------------------------------------------- per method

# METHOD_PIDS: every process of the current method (HAProxy -sf leaves old ones
# draining for a while); CUR_PID: the one that gets the next signal.
METHOD_PIDS=()
CUR_PID=

start_method() {
	local m=$1 d=$2
	METHOD_PIDS=() CUR_PID=
	case $m in
	none | sf | api)
		write_haproxy_cfg "$d/haproxy.cfg" http "$PORT" 50 50 "$d/haproxy.sock"
		haproxy -c -q -f "$d/haproxy.cfg" >"$d/haproxy-check.log" 2>&1 || { cat "$d/haproxy-check.log" >&2; return 1; }
		start_bg "$d/haproxy.log" "${PROXY_PIN[@]}" haproxy -db -f "$d/haproxy.cfg"
		;;
	nginx)
		write_nginx_conf "$d/nginx" "$PORT" 50 50
		start_bg "$d/nginx.log" "${PROXY_PIN[@]}" nginx -p "$d/nginx" -c "$d/nginx/nginx.conf" -g 'daemon off;'
		;;
	turnout)
		write_turnout_gateways "$d/gateways.yaml" 50 50 "$PORT"
		start_turnout "$d" "$d/gateways.yaml" || { METHOD_PIDS=("$LAST_PID"); return 1; }
		;;
	*) die "unknown method $m" ;;
	esac
	CUR_PID=$LAST_PID
	METHOD_PIDS+=("$LAST_PID")
	wait_http "$URL" 20 "$CUR_PID"
}

# apply_weights METHOD DIR K WA WB: change the running split; non-zero if the change
# was not accepted.
apply_weights() {
	local m=$1 d=$2 k=$3 wa=$4 wb=$5
	case $m in
	none) ;;
	sf)
		local cfg=$d/haproxy-$k.cfg
		write_haproxy_cfg "$cfg" http "$PORT" "$wa" "$wb" "$d/haproxy.sock"
		start_bg "$d/haproxy.log" "${PROXY_PIN[@]}" haproxy -db -f "$cfg" -sf "$CUR_PID"
		CUR_PID=$LAST_PID
		METHOD_PIDS+=("$LAST_PID")
		;;
	api)
		local out
		out=$(printf 'set server be/b1 weight %s\nset server be/b2 weight %s\n' "$wa" "$wb" |
			socat -t2 - "UNIX-CONNECT:$d/haproxy.sock" 2>&1) || return 1
		# HAProxy answers nothing (blank lines) on success
		[[ -z ${out//[[:space:]]/} ]] || {
			echo "change $k: $out" >>"$d/api-errors.log"
			return 1
		}
		;;
	nginx)
		write_nginx_conf "$d/nginx" "$PORT" "$wa" "$wb"
		kill -HUP "$CUR_PID"
		;;
	turnout)
		# applied = its reload counter moved (by the SIGHUP or by the file watch)
		local r0 deadline
		r0=$(turnout_reloads)
		write_turnout_gateways "$d/gateways.yaml" "$wa" "$wb" "$PORT"
		kill -HUP "$CUR_PID"
		deadline=$(($(now_ms) + 2000))
		while (($(turnout_reloads) <= r0)); do
			(($(now_ms) < deadline)) || return 1
			sleep 0.005
		done
		;;
	esac
}

# turnout_reloads: turnout_config_reloads_total, all results (-1 if unreadable).
turnout_reloads() {
	curl -fsS --max-time 1 "http://$TURNOUT_ADMIN/metrics" 2>/dev/null |
		awk 'BEGIN {n = 0} /^turnout_config_reloads_total/ {n += $2} END {print int(n)}' || echo -1
}

stop_method() {
	local pid
	for pid in "${METHOD_PIDS[@]}"; do
		stop_pid "$pid"
	done
	METHOD_PIDS=()
}

# sleep_until MS: sleeps until the wall clock reaches MS (milliseconds since the epoch).
sleep_until() {
	local left=$(($1 - $(now_ms)))
	((left <= 0)) || sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
}

measure_method() {
	local rep=$1 m=$2
	local d=$OUT/rep$rep/$m
	mkdir -p "$d"
	log "rep $rep/$REPS: $m"
	if [[ $m == turnout && $TURNOUT_STATUS != built ]]; then
		log "  skipped: $TURNOUT_STATUS"
		return 0
	fi
	if ! start_method "$m" "$d"; then
		stop_method
		if [[ $m == turnout ]]; then
			log "  skipped: turnout serve did not become healthy (see $d/turnout.log)"
			grep -q '^SKIPPED_turnout=' "$OUT/meta.env" ||
				echo "SKIPPED_turnout=turnout serve did not become healthy" >>"$OUT/meta.env"
			return 0
		fi
		die "$m did not start (see $d)"
	fi
	run_wrk "$d/warmup.txt" 64 "$WARMUP" "$URL"

	# A phase runs from the moment a change command returned to the next change; the
	# few ms a change command itself takes are counted in neither phase.
	local f=$d/wrk.txt wa=50 wb=50 k failures=0 now a b pa pb t_apply=0 ta
	read -r pa pb <<<"$(backend_counts)"
	"${LOAD_PIN[@]}" wrk -t1 -c64 -d"$LOAD_DURATION" --latency "$URL" >"$f" 2>&1 &
	local wrk_pid=$! t0
	BENCH_PIDS+=("$wrk_pid")
	t0=$(now_ms)
	for ((k = 1; k <= CHANGES; k++)); do
		sleep_until $((t0 + k * INTERVAL * 1000))
		read -r a b <<<"$(backend_counts)"
		now=$(now_ms)
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$m" $((k - 1)) "$wa" "$wb" $((a - pa)) $((b - pb)) $((now - t0)) "$t_apply" >>"$OUT/phases.tsv"
		if [[ $m != none ]]; then
			wa=${SEQ_A[$(((k - 1) % 3))]} wb=${SEQ_B[$(((k - 1) % 3))]}
		fi
		ta=$(now_ms)
		apply_weights "$m" "$d" "$k" "$wa" "$wb" || {
			failures=$((failures + 1))
			log "  change $k to $wa/$wb failed"
		}
		t_apply=$(($(now_ms) - ta))
		read -r pa pb <<<"$(backend_counts)"
	done
	wait "$wrk_pid" || true
	read -r a b <<<"$(backend_counts)"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$m" "$CHANGES" "$wa" "$wb" $((a - pa)) $((b - pb)) $(($(now_ms) - t0)) "$t_apply" >>"$OUT/phases.tsv"

	if [[ $m == turnout ]]; then
		# a reload the gateway refused counts as a failed change
		curl -fsS --max-time 2 "http://$TURNOUT_ADMIN/metrics" >"$d/metrics.txt" 2>/dev/null || true
		local refused
		refused=$(awk '/^turnout_config_reloads_total\{result="error"\}/ {print int($2)}' "$d/metrics.txt")
		failures=$((failures + ${refused:-0}))
	fi
	local w changes=$CHANGES
	[[ $m == none ]] && changes=0
	w=$(parse_wrk "$f")
	printf '%s\t%s\t%s\t%s\t%s\n' "$rep" "$m" "$w" "$changes" "$failures" >>"$OUT/reload.tsv"
	log "  $(awk -F'\t' '{printf "%s req/s, p99 %s us, socket errors %s (c/r/w/t %s), non-2xx %s", $1, $4, $5, $7, $6}' <<<"$w"), failed changes $failures"
	stop_method
}

for ((rep = 1; rep <= REPS; rep++)); do
	for m in $METHODS; do
		measure_method "$rep" "$m"
	done
done

finish_out reload
log "done: $OUT"
