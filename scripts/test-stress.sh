#!/usr/bin/env bash
# The test suite under CPU stress, to find flaky tests: BUSY busy loops run beside
# `go test -race` (what `make test` runs), RUNS times, stopping at the first failing
# run unless KEEP_GOING=1. A summary line per run and one at the end, with the
# failing tests' names. Run by `make test-stress`; runnable alone.
#
#   scripts/test-stress.sh [PACKAGES...]        (default ./...)
#
# Environment: RUNS [10], BUSY [2] (busy loops, killed on exit), KEEP_GOING [0],
# COUNT [1] (go test -count: a high one hammers a few packages), RUN [] (go test
# -run), TIMEOUT [15m], GO [go], OUT [a new directory under $TMPDIR] (one log per run).
# Examples:
#   make test-stress                                    10 runs of the whole suite
#   RUNS=3 COUNT=20 make test-stress PKGS="./core/engine ./plugins/..."
#   RUNS=1 COUNT=300 RUN='TestNamespace' scripts/test-stress.sh ./plugins/backend/consul/
set -uo pipefail

RUNS=${RUNS:-10}
BUSY=${BUSY:-2}
KEEP_GOING=${KEEP_GOING:-0}
COUNT=${COUNT:-1}
RUN=${RUN:-}
TIMEOUT=${TIMEOUT:-15m}
GO=${GO:-go}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/turnout-stress.XXXXXX")}
PKGS=("$@")
[ ${#PKGS[@]} -gt 0 ] || PKGS=(./...)

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
mkdir -p "$OUT"

busy=()
gotest=
cleanup() {
	# go test runs in its own process group: this ends it and the test binaries.
	[ -n "$gotest" ] && kill -TERM -- "-$gotest" 2>/dev/null
	for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in $gotest "${busy[@]}"; do wait "$pid" 2>/dev/null; done
	busy=() gotest=
}
trap cleanup EXIT
trap 'cleanup; echo "stress: interrupted during run ${run:-0} of $RUNS, logs in $OUT"; exit 130' INT TERM

args=(test -race -count="$COUNT" -timeout "$TIMEOUT")
[ -n "$RUN" ] && args+=(-run "$RUN")
args+=("${PKGS[@]}")

# Build (and vet) first, without the busy loops and without running anything: a
# compile error is not a flake, and the runs then stress the tests, not the compiler.
if ! "$GO" test -race -count=1 -exec true "${PKGS[@]}" >"$OUT/build.log" 2>&1; then
	cat "$OUT/build.log"
	echo "stress: the packages do not build or vet; see above"
	exit 2
fi

for ((i = 0; i < BUSY; i++)); do
	(while :; do :; done) &
	busy+=($!)
done
echo "stress: $RUNS run(s) of: $GO ${args[*]}"
echo "stress: beside $BUSY busy loop(s) on $(nproc 2>/dev/null || echo '?') CPU(s); logs in $OUT"

# failed_tests prints "package TestName" for every failing test in a go test log
# (a test still running when the timeout hit is "TestName (timed out)"), and
# "package (no test named)" for a package that failed without one (a panic, a race
# outside a test, a build error).
failed_tests() {
	awk '
		/^[ \t]*--- FAIL: / { pending[++n] = $3; next }
		/^panic: test timed out/ { timedout = 1; next }
		timedout && /^[ \t]+Test[^ \t]* \(/ { pending[++n] = $1 " (timed out)"; next }
		/^(FAIL|ok)[ \t]+[^ \t]+/ && $2 != "" {
			pkg = $2; sub(/^github\.com\/turnout\/turnout\//, "", pkg)
			if ($1 == "FAIL") {
				if (n == 0) print pkg " (no test named)"
				for (j = 1; j <= n; j++) {
					# a parent fails with its subtest: name the subtest only
					if (j < n && index(pending[j+1], pending[j] "/") == 1) continue
					print pkg " " pending[j]
				}
			}
			n = 0; timedout = 0
		}
	' "$1"
}

failures=0
done_runs=0
declare -A seen=()
for ((run = 1; run <= RUNS; run++)); do
	log=$OUT/run-$run.log
	start=$SECONDS
	# In the background and waited for, so that a signal reaches the trap at once.
	set -m
	"$GO" "${args[@]}" >"$log" 2>&1 &
	gotest=$!
	set +m
	wait "$gotest"
	rc=$?
	gotest=
	took=$((SECONDS - start))
	done_runs=$run
	if [ $rc -eq 0 ]; then
		echo "run $run/$RUNS: ok (${took}s)"
		continue
	fi
	failures=$((failures + 1))
	names=$(failed_tests "$log" | sort | uniq -c)
	[ -n "$names" ] || names="1 (exit $rc, no test named)"
	echo "run $run/$RUNS: FAIL (${took}s), log $log:"
	while read -r n name; do
		echo "    ${n}x $name"
		seen[$name]=$((${seen[$name]:-0} + n))
	done <<<"$names"
	if [ "$KEEP_GOING" != 1 ]; then
		break
	fi
done

cleanup
echo "stress: $done_runs run(s), $failures failed (count=$COUNT, $BUSY busy loop(s), packages: ${PKGS[*]})"
for name in "${!seen[@]}"; do
	echo "    ${seen[$name]}x $name"
done | sort -k2
[ $failures -eq 0 ]
