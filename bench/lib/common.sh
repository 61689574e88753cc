# shellcheck shell=bash
# Shared functions of bench/run.sh and bench/reload.sh. Source it; do not run it.
#
# Every process a script starts goes through start_bg, which records its PID in
# BENCH_PIDS; the EXIT trap installed by bench_init stops exactly those PIDs
# (TERM, then KILL), never anything found by name.

# shellcheck disable=SC2034 # constants below are used by the scripts that source this file
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
BENCH_BIN=$BENCH_DIR/bin
TURNOUT_BIN=$REPO_ROOT/bin/turnout

# Ports, all on 127.0.0.1. The defaults are the same for every run, so that runs are
# comparable; on a shared machine where one is taken, set it in the environment. Every
# config (HAProxy, nginx, Turnout's gateways and --admin) is written from these.
PORT_BACKEND_A=${PORT_BACKEND_A:-19001}
PORT_BACKEND_B=${PORT_BACKEND_B:-19002}
PORT_HAPROXY_HTTP=${PORT_HAPROXY_HTTP:-19101}
PORT_NGINX=${PORT_NGINX:-19102}
PORT_HAPROXY_TCP=${PORT_HAPROXY_TCP:-19104}
PORT_TURNOUT_HTTP=${PORT_TURNOUT_HTTP:-19109}
PORT_TURNOUT_TCP=${PORT_TURNOUT_TCP:-19110}
PORT_TURNOUT_ADMIN=${PORT_TURNOUT_ADMIN:-19180}
PORT_RELOAD=${PORT_RELOAD:-19201}
BENCH_PORT_VARS=(PORT_BACKEND_A PORT_BACKEND_B PORT_HAPROXY_HTTP PORT_NGINX PORT_HAPROXY_TCP
	PORT_TURNOUT_HTTP PORT_TURNOUT_TCP PORT_TURNOUT_ADMIN PORT_RELOAD)
BACKEND_A=127.0.0.1:$PORT_BACKEND_A
BACKEND_B=127.0.0.1:$PORT_BACKEND_B
TURNOUT_ADMIN=127.0.0.1:$PORT_TURNOUT_ADMIN

# use_upload_ports: bench/upload.sh's own ports (UPLOAD_PORT_BASE [19300]: backends +1/+2,
# HAProxy +11, nginx +12, Turnout +19 and +20 (tcp), its admin +80), so that an upload
# run does not meet a bench/run.sh on the same machine.
use_upload_ports() {
	UPLOAD_PORT_BASE=${UPLOAD_PORT_BASE:-19300}
	BACKEND_A=127.0.0.1:$((UPLOAD_PORT_BASE + 1))
	BACKEND_B=127.0.0.1:$((UPLOAD_PORT_BASE + 2))
	PORT_HAPROXY_HTTP=$((UPLOAD_PORT_BASE + 11))
	PORT_NGINX=$((UPLOAD_PORT_BASE + 12))
	PORT_TURNOUT_HTTP=$((UPLOAD_PORT_BASE + 19))
	PORT_TURNOUT_TCP=$((UPLOAD_PORT_BASE + 20))
	TURNOUT_ADMIN=127.0.0.1:$((UPLOAD_PORT_BASE + 80))
}

CLK_TCK=$(getconf CLK_TCK)
BENCH_PIDS=()
LAST_PID=
APT_UPDATED=

log() { printf '%s [bench] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# now_ms: wall clock in milliseconds.
now_ms() { date +%s%3N; }

# check_ports: every PORT_* a port number, no two the same; else a usage error before
# anything starts.
check_ports() {
	local v p seen=" "
	for v in "${BENCH_PORT_VARS[@]}"; do
		p=${!v}
		[[ $p =~ ^[0-9]+$ ]] && ((p >= 1 && p <= 65535)) || die "$v=$p: want a port number, 1-65535"
		[[ $seen != *" $p "* ]] || die "$v=$p: that port is already another PORT_* variable's"
		seen+="$p "
	done
}

# ports_env: the ports of this run, as meta.env lines.
ports_env() {
	local v
	for v in "${BENCH_PORT_VARS[@]}"; do
		echo "$v=${!v}"
	done
}

# bench_init: ports, pinning, thread counts, the EXIT trap. Call once at the top.
bench_init() {
	check_ports
	# Comparable, unpinned by default: Go picks GOMAXPROCS from the CPUs it may use.
	unset GOMAXPROCS GOGC GODEBUG
	PINNED=${PINNED:-0}
	if [[ $PINNED == 1 ]]; then
		LOAD_PIN=(taskset -c 0)  # wrk, splitcount, both backends
		PROXY_PIN=(taskset -c 1) # the contender
		PROXY_THREADS=${PROXY_THREADS:-1}
	else
		LOAD_PIN=()
		PROXY_PIN=()
		PROXY_THREADS=${PROXY_THREADS:-2}
	fi
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	local rc=$? pid
	for pid in "${BENCH_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${BENCH_PIDS[@]}"; do
		wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
	done
	return $rc
}

# ---------------------------------------------------------------- installing, building

# ensure_packages CMD...: installs the Debian package of every missing command.
ensure_packages() {
	local cmd missing=()
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
	done
	((${#missing[@]})) || return 0
	log "installing missing packages: ${missing[*]}"
	local sudo=()
	[[ $(id -u) == 0 ]] || sudo=(sudo)
	if [[ -z $APT_UPDATED ]]; then
		"${sudo[@]}" apt-get update -qq
		APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	for cmd in "${missing[@]}"; do
		command -v "$cmd" >/dev/null 2>&1 || die "package $cmd did not provide the command $cmd"
	done
}

# build_tools: the backend, splitcount, upload and summarize into bench/bin/.
build_tools() {
	mkdir -p "$BENCH_BIN"
	(cd "$REPO_ROOT" && go build -o "$BENCH_BIN/" ./bench/backend ./bench/splitcount ./bench/upload ./bench/summarize) ||
		die "building the bench tools failed"
}

# build_turnout LOGFILE: go build -o bin/turnout ./cmd/turnout. Sets TURNOUT_STATUS
# to "built" or to the reason it cannot be measured; returns non-zero then.
# TURNOUT_BUILD=0 uses the bin/turnout that is there (e.g. the one bench/run.sh built).
build_turnout() {
	local logf=$1
	if [[ ${TURNOUT_BUILD:-1} == 0 && -x $TURNOUT_BIN ]]; then
		echo "TURNOUT_BUILD=0: using the existing $TURNOUT_BIN" >"$logf"
		TURNOUT_STATUS=built
		TURNOUT_SHA=$(sha256sum "$TURNOUT_BIN" | cut -c1-12)
		return 0
	fi
	if (cd "$REPO_ROOT" && go build -o bin/turnout ./cmd/turnout) >"$logf" 2>&1; then
		TURNOUT_STATUS=built
		TURNOUT_SHA=$(sha256sum "$TURNOUT_BIN" | cut -c1-12)
		return 0
	fi
	TURNOUT_STATUS="go build ./cmd/turnout failed: $(grep -m1 -v '^#' "$logf" | cut -c1-160)"
	log "turnout contenders skipped: $TURNOUT_STATUS (full log: $logf)"
	return 1
}

# machine_info: what the doc reports about the machine and the tools.
machine_info() {
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "kernel: $(uname -sr)"
	echo "os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
	echo "haproxy: $(haproxy -v 2>&1 | head -1)"
	echo "nginx: $(nginx -v 2>&1 | head -1)"
	echo "wrk: $(wrk -v 2>&1 | head -1 | cut -c1-40)"
	echo "go: $(go version)"
	echo "git: $(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo 'no commit yet')$(cd "$REPO_ROOT" && [[ -n $(git status --porcelain 2>/dev/null | head -1) ]] && echo ' (with uncommitted changes)')"
}

# ---------------------------------------------------------------- processes

# start_bg LOGFILE [--cwd DIR] CMD...: starts CMD in the background, records its PID in
# BENCH_PIDS and LAST_PID. Use it directly (not in $(...)): the process must be a child
# of the script.
start_bg() {
	local logf=$1
	shift
	local dir=.
	if [[ ${1:-} == --cwd ]]; then
		dir=$2
		shift 2
	fi
	(cd "$dir" && exec "$@") >>"$logf" 2>&1 &
	LAST_PID=$!
	BENCH_PIDS+=("$LAST_PID")
}

# wait_gone PID SECONDS: true once PID has exited (and been reaped, if it is our child).
wait_gone() {
	local pid=$1 deadline=$(($(now_ms) + $2 * 1000))
	while kill -0 "$pid" 2>/dev/null; do
		# a zombie child: reap it
		if [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]]; then
			wait "$pid" 2>/dev/null || true
			return 0
		fi
		(($(now_ms) < deadline)) || return 1
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || true
	return 0
}

# stop_pid PID: TERM, up to 10 s, then KILL.
stop_pid() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || return 0
	wait_gone "$pid" 10 || {
		log "pid $pid ignored TERM for 10 s, killing it"
		kill -KILL "$pid" 2>/dev/null || true
		wait_gone "$pid" 5 || true
	}
}

# wait_http URL SECONDS [PID]: polls until URL answers 200; fails at the deadline or
# as soon as PID (the process that should answer) has exited.
wait_http() {
	local url=$1 deadline=$(($(now_ms) + $2 * 1000)) pid=${3:-}
	while :; do
		curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			log "process $pid exited before $url answered"
			return 1
		fi
		if (($(now_ms) >= deadline)); then
			log "$url did not answer within $2 s"
			return 1
		fi
		sleep 0.05
	done
}

# start_backends LOGDIR: the two origin servers, b1 on PORT_BACKEND_A and b2 on PORT_BACKEND_B.
start_backends() {
	local logdir=$1
	start_bg "$logdir/backend-b1.log" "${LOAD_PIN[@]}" "$BENCH_BIN/backend" -addr "$BACKEND_A" -name b1 -size "${BODY_SIZE:-64}"
	BACKEND_PIDS=("$LAST_PID")
	start_bg "$logdir/backend-b2.log" "${LOAD_PIN[@]}" "$BENCH_BIN/backend" -addr "$BACKEND_B" -name b2 -size "${BODY_SIZE:-64}"
	BACKEND_PIDS+=("$LAST_PID")
	wait_http "http://$BACKEND_A/__count" 10 "${BACKEND_PIDS[0]}" || die "backend b1 did not start (port $PORT_BACKEND_A taken? set PORT_BACKEND_A)"
	wait_http "http://$BACKEND_B/__count" 10 "${BACKEND_PIDS[1]}" || die "backend b2 did not start (port $PORT_BACKEND_B taken? set PORT_BACKEND_B)"
}

# backend_counts: "<b1 requests> <b2 requests>" served so far.
backend_counts() {
	local a b
	a=$(curl -fsS --max-time 2 "http://$BACKEND_A/__count") || a=NA
	b=$(curl -fsS --max-time 2 "http://$BACKEND_B/__count") || b=NA
	echo "$a $b"
}

# ---------------------------------------------------------------- CPU accounting

# tree_pids PID: PID and all its live descendants.
tree_pids() {
	local pid=$1 child
	echo "$pid"
	for child in $(pgrep -P "$pid" 2>/dev/null); do
		tree_pids "$child"
	done
}

# cpu_ticks PID...: utime+stime of each PID and its live descendants, plus the
# cutime+cstime of reaped children, in clock ticks (getconf CLK_TCK per second).
# nginx: master + workers; HAProxy and Go: one process, all threads.
cpu_ticks() {
	local root pid total=0 t
	for root in "$@"; do
		for pid in $(tree_pids "$root"); do
			# fields after "(comm)": state is $1, utime $12, stime $13, cutime $14, cstime $15
			t=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12+$13+$14+$15}') || t=0
			total=$((total + ${t:-0}))
		done
	done
	echo "$total"
}

# ---------------------------------------------------------------- wrk

# run_wrk OUTFILE CONNECTIONS DURATION URL: wrk -t1 -cN -dD --latency, pinned like the
# rest of the load. The CPU wrk used (user+sys seconds) goes to OUTFILE.time.
run_wrk() {
	local out=$1 conns=$2 dur=$3 url=$4
	local TIMEFORMAT='%U %S'
	{ time "${LOAD_PIN[@]}" wrk -t1 -c"$conns" -d"$dur" --latency "$url" >"$out" 2>&1; } 2>"$out.time" || true
}

# wrk_cpu OUTFILE: seconds of CPU wrk used in that run.
wrk_cpu() { awk '{printf "%.2f", $1+$2}' "$1.time" 2>/dev/null || echo NA; }

# parse_wrk FILE: "rps requests p50_us p99_us socket_errors non2xx errs_by_kind", tab-
# separated; socket_errors = connect+read+write+timeout, errs_by_kind =
# connect/read/write/timeout. NA where wrk printed nothing usable.
parse_wrk() {
	awk '
	function us(v,   n) {
		n = v + 0
		if (v ~ /us$/) return n
		if (v ~ /ms$/) return n * 1000
		if (v ~ /m$/) return n * 60e6
		if (v ~ /s$/) return n * 1e6
		return n
	}
	/requests in/            { req = $1 }
	/^ *50% /                { p50 = us($2) }
	/^ *99% /                { p99 = us($2) }
	/^Requests\/sec:/        { rps = $2 }
	/Socket errors:/         { gsub(/,/, ""); c = $4; r = $6; w = $8; t = $10 }
	/Non-2xx or 3xx/         { non2xx = $5 }
	END {
		if (rps == "") rps = "NA"
		if (req == "") req = "NA"
		if (p50 == "") p50 = "NA"; else p50 = sprintf("%.0f", p50)
		if (p99 == "") p99 = "NA"; else p99 = sprintf("%.0f", p99)
		printf "%s\t%s\t%s\t%s\t%d\t%d\t%d/%d/%d/%d\n", rps, req, p50, p99, c + r + w + t, non2xx + 0, c, r, w, t
	}' "$1"
}

# ---------------------------------------------------------------- contender configs

# write_haproxy_cfg FILE MODE(http|tcp) PORT WEIGHT_A WEIGHT_B [STATS_SOCKET]
write_haproxy_cfg() {
	local f=$1 mode=$2 port=$3 wa=$4 wb=$5 sock=${6:-}
	{
		echo "global"
		echo "    nbthread $PROXY_THREADS"
		echo "    maxconn 4000"
		echo "    hard-stop-after 30s"
		[[ -n $sock ]] && echo "    stats socket $sock mode 600 level admin"
		echo "defaults"
		echo "    mode $mode"
		echo "    timeout connect 2s"
		echo "    timeout client 30s"
		echo "    timeout server 30s"
		[[ $mode == http ]] && echo "    option http-keep-alive"
		echo "frontend fe"
		echo "    bind 127.0.0.1:$port"
		echo "    default_backend be"
		echo "backend be"
		echo "    balance roundrobin"
		echo "    server b1 $BACKEND_A weight $wa"
		echo "    server b2 $BACKEND_B weight $wb"
	} >"$f"
}

# nginx_server WEIGHT ADDR: an upstream server line; weight 0 is written as "down".
nginx_server() {
	if [[ $1 == 0 ]]; then
		echo "        server $2 down;"
	else
		echo "        server $2 weight=$1;"
	fi
}

# write_nginx_conf DIR PORT WEIGHT_A WEIGHT_B: DIR/nginx.conf, run with -p DIR.
# NGINX_LOCATION_EXTRA (an array of directives) goes into the location.
write_nginx_conf() {
	local d=$1 port=$2 wa=$3 wb=$4
	mkdir -p "$d/logs"
	{
		echo "worker_processes $PROXY_THREADS;"
		echo "pid $d/nginx.pid;"
		echo "error_log $d/logs/error.log warn;"
		echo "events { worker_connections 8192; }"
		echo "http {"
		echo "    access_log off;"
		echo "    keepalive_requests 1000000;"
		echo "    upstream be {"
		nginx_server "$wa" "$BACKEND_A"
		nginx_server "$wb" "$BACKEND_B"
		echo "        keepalive 64;"
		echo "        keepalive_requests 1000000;"
		echo "    }"
		echo "    server {"
		echo "        listen 127.0.0.1:$port;"
		echo "        location / {"
		echo "            proxy_pass http://be;"
		echo "            proxy_http_version 1.1;"
		echo "            proxy_set_header Connection \"\";"
		local x
		for x in ${NGINX_LOCATION_EXTRA[@]+"${NGINX_LOCATION_EXTRA[@]}"}; do
			echo "            $x"
		done
		echo "        }"
		echo "    }"
		echo "}"
	} >"$d/nginx.conf.tmp"
	mv "$d/nginx.conf.tmp" "$d/nginx.conf"
}

# write_turnout_gateways FILE WEIGHT_A WEIGHT_B HTTP_PORT [TCP_PORT]: a Vamp gateway
# file, written atomically (temp file + rename) because Turnout watches it.
write_turnout_gateways() {
	local f=$1 wa=$2 wb=$3 hport=$4 tport=${5:-}
	{
		echo "name: bench-http"
		echo "port: $hport/http"
		echo "routes:"
		echo "  \"[$BACKEND_A]\":"
		echo "    weight: $wa%"
		echo "  \"[$BACKEND_B]\":"
		echo "    weight: $wb%"
		if [[ -n $tport ]]; then
			echo "---"
			echo "name: bench-tcp"
			echo "port: $tport/tcp"
			echo "routes:"
			echo "  \"[$BACKEND_A]\":"
			echo "    weight: $wa%"
			echo "  \"[$BACKEND_B]\":"
			echo "    weight: $wb%"
		fi
	} >"$f.tmp"
	mv "$f.tmp" "$f"
}

# start_turnout DIR GATEWAYS_FILE [EXTRA_ARG...]: bin/turnout serve in DIR (its working
# directory, so that anything it writes stays in the run's output). Gateway ports are
# bound to 127.0.0.1 like HAProxy's and nginx's (when the binary has --bind).
start_turnout() {
	local d=$1 gw=$2
	shift 2
	local extra=("$@")
	if "$TURNOUT_BIN" serve --help 2>/dev/null | grep -q -- '--bind'; then
		extra=(--bind 127.0.0.1 "${extra[@]}")
	fi
	# A fresh store per start: state from an earlier start must not add gateways.
	if "$TURNOUT_BIN" serve --help 2>/dev/null | grep -q -- '--data-dir'; then
		# Relative to the process's working directory ($d), so recorded commands name no machine paths.
		extra=(--data-dir "$(basename "$(mktemp -d "$d/data.XXXX")")" "${extra[@]}")
	fi
	TURNOUT_CMD="bin/turnout serve -f gateways.yaml --admin $TURNOUT_ADMIN${extra[*]:+ ${extra[*]}}"
	echo "$TURNOUT_CMD" >"$d/turnout.cmd"
	start_bg "$d/turnout.log" --cwd "$d" "${PROXY_PIN[@]}" "$TURNOUT_BIN" serve -f "$gw" --admin "$TURNOUT_ADMIN" "${extra[@]}"
	wait_http "http://$TURNOUT_ADMIN/healthz" 20 "$LAST_PID"
}

# ---------------------------------------------------------------- contenders

# start_contender NAME DIR: starts it, waits until it answers; sets URL, PROTO,
# NEWCONN and CPID (the process whose CPU is measured; empty for direct).
start_contender() {
	local name=$1 d=$2
	CPID='' NEWCONN=''
	case $name in
	direct)
		PROTO=ref URL=http://$BACKEND_A/
		;;
	haproxy-http | haproxy-tcp)
		local mode=${name#haproxy-} port=$PORT_HAPROXY_HTTP
		[[ $mode == tcp ]] && port=$PORT_HAPROXY_TCP NEWCONN=1
		PROTO=$mode URL=http://127.0.0.1:$port/
		write_haproxy_cfg "$d/haproxy.cfg" "$mode" "$port" 50 50
		haproxy -c -q -f "$d/haproxy.cfg" >"$d/haproxy-check.log" 2>&1 || { cat "$d/haproxy-check.log" >&2; return 1; }
		start_bg "$d/haproxy.log" "${PROXY_PIN[@]}" haproxy -db -f "$d/haproxy.cfg"
		CPID=$LAST_PID
		;;
	nginx)
		PROTO=http URL=http://127.0.0.1:$PORT_NGINX/
		write_nginx_conf "$d/nginx" "$PORT_NGINX" 50 50
		start_bg "$d/nginx.log" "${PROXY_PIN[@]}" nginx -p "$d/nginx" -c "$d/nginx/nginx.conf" -g 'daemon off;'
		CPID=$LAST_PID
		;;
	turnout-http | turnout-goroutine-http | turnout-tcp)
		if [[ $TURNOUT_STATUS != built ]]; then
			SKIP_REASON=$TURNOUT_STATUS
			return 2
		fi
		PROTO=${name##*-}
		local extra=()
		[[ $name == turnout-goroutine-http ]] && extra=(--goroutine-http)
		if [[ $PROTO == http ]]; then
			URL=http://127.0.0.1:$PORT_TURNOUT_HTTP/
		else
			URL=http://127.0.0.1:$PORT_TURNOUT_TCP/ NEWCONN=1
		fi
		write_turnout_gateways "$d/gateways.yaml" 50 50 "$PORT_TURNOUT_HTTP" "$PORT_TURNOUT_TCP"
		if ! start_turnout "$d" "$d/gateways.yaml" "${extra[@]}"; then
			SKIP_REASON="turnout serve did not become healthy (log: ${d#"$REPO_ROOT"/}/turnout.log)"
			tail -5 "$d/turnout.log" >&2 || true
			[[ -n $LAST_PID ]] && stop_pid "$LAST_PID"
			return 2
		fi
		CPID=$LAST_PID
		;;
	turnout-plugins)
		# The same split with plugins loaded: the routes are file: targets
		# that the example backend plugin resolves, in its own process. The
		# plugin is off the request path, so the numbers should not move.
		if [[ $TURNOUT_STATUS != built ]]; then
			SKIP_REASON=$TURNOUT_STATUS
			return 2
		fi
		PROTO=http URL=http://127.0.0.1:$PORT_TURNOUT_HTTP/
		mkdir -p "$d/plugins"
		(cd "$REPO_ROOT" && go build -o "$d/plugins/turnout-plugin-backend-file" ./docs/examples/backend-file) || return 1
		echo "$BACKEND_A" >"$d/a.endpoints"
		echo "$BACKEND_B" >"$d/b.endpoints"
		{
			echo "name: bench-http"
			echo "port: $PORT_TURNOUT_HTTP/http"
			echo "routes:"
			echo "  \"file:$d/a.endpoints\":"
			echo "    weight: 50%"
			echo "  \"file:$d/b.endpoints\":"
			echo "    weight: 50%"
		} >"$d/gateways.yaml"
		local sum
		sum=$(sha256sum "$d/plugins/turnout-plugin-backend-file" | cut -d' ' -f1)
		if ! start_turnout "$d" "$d/gateways.yaml" --plugin-dir plugins --plugin-checksum "turnout-plugin-backend-file=$sum"; then
			SKIP_REASON="turnout serve did not become healthy (log: ${d#"$REPO_ROOT"/}/turnout.log)"
			[[ -n $LAST_PID ]] && stop_pid "$LAST_PID"
			return 2
		fi
		CPID=$LAST_PID
		# Traffic flows once the plugin resolved both routes.
		local i
		for ((i = 0; i < 100; i++)); do
			curl -fsS "http://$TURNOUT_ADMIN/api/v1/gateways/bench-http/status" | grep -q '"effective_weight":"50%","ready":true.*"effective_weight":"50%","ready":true' && break
			sleep 0.1
		done
		;;
	*)
		die "unknown contender $name"
		;;
	esac
	wait_http "$URL" 20 "$CPID"
}

# latest_dir SUFFIX: newest bench/out/*-SUFFIX directory with a finished result, or "".
latest_dir() {
	local d last=""
	for d in "$BENCH_DIR"/out/[0-9]*-"$1"; do # the glob sorts by timestamp
		[[ -f $d/done ]] && last=$d
	done
	echo "$last"
}

# finish_out KIND: marks $OUT finished (end time and load in meta.env, the
# done file), points bench/out/last-KIND at it and rewrites the doc.
finish_out() {
	{
		echo "FINISHED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
		echo "LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)"
	} >>"$OUT/meta.env"
	touch "$OUT/done"
	ln -sfn "$(basename "$OUT")" "$BENCH_DIR/out/last-$1"
	write_doc
}

# write_doc: docs/performance.md (or $DOC) from the newest finished run, reload and upload.
write_doc() {
	local run reload upload cluster args=()
	run=$(latest_dir run)
	reload=$(latest_dir reload)
	upload=$(latest_dir upload)
	cluster=$(latest_dir cluster)
	[[ -n $run ]] && args+=(-run "$run")
	[[ -n $reload ]] && args+=(-reload "$reload")
	[[ -n $upload ]] && args+=(-upload "$upload")
	[[ -n $cluster ]] && args+=(-cluster "$cluster")
	((${#args[@]})) || return 0
	[[ -f $BENCH_DIR/out/go-bench.txt ]] && args+=(-gobench "$BENCH_DIR/out/go-bench.txt")
	local doc=${DOC:-$REPO_ROOT/docs/performance.md}
	mkdir -p "$(dirname "$doc")"
	"$BENCH_BIN/summarize" "${args[@]}" -o "$doc" && log "wrote $doc (run: ${run:-none}, reload: ${reload:-none}, upload: ${upload:-none}, cluster: ${cluster:-none})"
}
