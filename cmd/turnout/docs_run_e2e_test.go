package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDocCommandsRunAsWritten runs every shell block of the README and
// docs/*.md that is not marked <!-- not run: REASON --> (see
// docblocks_test.go), command by command, in the doc's order, on the state
// the doc's earlier commands leave, through the real binary. A doc's first
// command runs in a copy of the repository (its tracked and new files) with
// bin/turnout in place, as after `make build`, and `turnout` on the PATH.
//
// Each doc runs in a network namespace of its own with only loopback up, so
// the fixed ports the docs name (8080, 9880, ...) are free whatever else runs
// on the machine, and in a mount namespace with a tmpfs on /opt, so that a
// doc may install to /opt as it tells a reader to, and in a PID namespace,
// so that nothing the doc starts outlives it.
//
// The conventions, chosen so that the docs read as a reader would type them:
//   - `turnout serve ...` (also bin/turnout, and `make run`, which the
//     Makefile runs as `bin/turnout serve --demo`) runs as in a terminal of
//     its own: in the background, until the doc's end or a later serve on
//     the same admin address or data dir (whose port or lock the reader
//     freed by stopping it); the next command runs once the serve's /healthz
//     answers (--admin, TURNOUT_ADMIN, https with --admin-tls-cert). Several
//     serves on different addresses run side by side. Other make targets are
//     make's own, in the copy.
//   - A command the doc runs in the background with `&` (a ZooKeeper for
//     agents on one machine, say) runs until the doc's end, when the PID
//     namespace ends it. 127.0.0.2 and the like are on loopback, so
//     several agents can --bind the same gateway ports.
//   - The offline store commands (`turnout store ... --data-dir DIR` or
//     bolt://DIR) work on a stopped turnout's data dir, as the docs say: the
//     serve holding DIR is stopped before them.
//   - A command fails the doc when it exits non-zero, unless the doc's next
//     command is `echo $?`, which shows the status on purpose. curl runs with
//     --fail-with-body: a request the doc shows must succeed.
//   - The `# ...` lines right under a command (no blank line between) are the
//     output the doc promises: they must be in its output, in order ("..."
//     stands for anything).
//
// A failure names the doc, the command's line and the command, with its
// output and the serves' logs.
func TestDocCommandsRunAsWritten(t *testing.T) {
	needNetns(t)
	repo, _ := filepath.Abs("../..")
	checkMakeRun(t, repo)
	files := gitFiles(t, repo)
	for _, f := range docFiles(t, repo) {
		text, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		blocks, _ := parseDocBlocks(f, string(text))
		var cmds []docCommand
		for _, b := range blocks {
			if !b.marked {
				cmds = append(cmds, splitCommands(t, b)...)
			}
		}
		if len(cmds) == 0 {
			continue
		}
		t.Run(strings.TrimSuffix(strings.ReplaceAll(f, "/", "_"), ".md"), func(t *testing.T) {
			t.Parallel()
			for _, p := range runDocCommands(t, repo, files, f, cmds) {
				t.Error(p)
			}
		})
	}
}

// checkMakeRun holds the test's `make run` to the Makefile's.
func checkMakeRun(t *testing.T, repo string) {
	mk, err := os.ReadFile(filepath.Join(repo, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(mk), "\nrun: build")
	recipe := strings.SplitN(rest+"\n\n", "\n", 3)[1]
	if strings.TrimSpace(recipe) != "bin/turnout serve --demo" {
		t.Fatalf("the Makefile's run target is no longer `run: build` then `bin/turnout serve --demo` (%q): change the docs test's make with it", recipe)
	}
}

// gitFiles are the repository's tracked and new (not ignored) files.
func gitFiles(t *testing.T, repo string) []string {
	out, err := exec.Command("git", "-C", repo, "ls-files", "-co", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	return strings.Fields(string(out))
}

// serveWrapper is the docs' `turnout`: the real binary, but `serve` starts
// it in the background (stopping a serve on the same admin address or data
// dir) and returns once its /healthz answers, and the offline store
// commands stop the serve holding their data dir first.
const serveWrapper = `#!/bin/bash
real=%q
state=%q
# Each running serve is state/serve-N.{pid,admin,dir}: its admin address and
# its data dir (none when its store is ZooKeeper or memory).
stop() { # stop N
	local pid
	pid=$(cat "$state/serve-$1.pid"); rm -f "$state/serve-$1".{pid,admin,dir}
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	echo "docs test: turnout serve (pid $pid) did not stop in 30 s of SIGTERM" >&2; kill -KILL "$pid"; return 1
}
# stop_where FIELD VALUE stops the serves whose admin or dir is VALUE.
stop_where() {
	local f
	for f in "$state"/serve-*."$1"; do
		[ -e "$f" ] && [ "$(cat "$f")" = "$2" ] || continue
		n=${f##*/serve-}; stop "${n%%.*}" || return 1
	done
}
dir_of() { realpath -m "$1"; }
case "${1:-}" in
__stop)
	for f in "$state"/serve-*.pid; do [ -e "$f" ] || continue; n=${f##*/serve-}; stop "${n%%.*}"; done
	exit 0 ;;
store)
	# An offline store command works on a stopped turnout's data dir: the
	# serve that holds it is stopped, as the reader was told to.
	prev=
	for a in "$@"; do
		case "$a" in
		bolt://*) stop_where dir "$(dir_of "${a#bolt://}")" ;;
		--*=bolt://*) stop_where dir "$(dir_of "${a#*=bolt://}")" ;;
		--data-dir=*) stop_where dir "$(dir_of "${a#--data-dir=}")" ;;
		esac
		[ "$prev" != --data-dir ] || stop_where dir "$(dir_of "$a")"
		prev=$a
	done
	exec "$real" "$@" ;;
serve) ;;
*) exec "$real" "$@" ;;
esac
admin=${TURNOUT_ADMIN:-127.0.0.1:9880}; scheme=http
dir=${TURNOUT_DATA_DIR:-./turnout-data}; store=${TURNOUT_STORE:-}; demo=; dirset=${TURNOUT_DATA_DIR:+1}
args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--admin) admin=$2; shift ;;
	--admin=*) admin=${1#--admin=} ;;
	--admin-tls-cert|--admin-tls-cert=*) scheme=https ;;
	--data-dir) dir=$2; dirset=1; shift ;;
	--data-dir=*) dir=${1#--data-dir=}; dirset=1 ;;
	--store) store=$2; shift ;;
	--store=*) store=${1#--store=} ;;
	--demo) demo=1 ;;
	esac
	shift
done
[ -n "${TURNOUT_ADMIN_TLS_CERT:-}" ] && scheme=https
admin=${admin/localhost:/127.0.0.1:}
case "$store" in
bolt://*) dir=$(dir_of "${store#bolt://}") ;;
"") if [ -n "$demo" ] && [ -z "$dirset" ]; then dir=; else dir=$(dir_of "$dir"); fi ;;
*) dir= ;;
esac
# A serve on the admin address or the data dir of one running is its
# successor: the reader stopped the one before, whose port or lock it needs.
stop_where admin "$admin" || exit 1
[ -z "$dir" ] || stop_where dir "$dir" || exit 1
n=$(( $(cat "$state/n" 2>/dev/null || echo 0) + 1 )); echo $n >"$state/n"
log="$state/serve-$n.log"
echo "turnout ${args[*]}" >"$log"
"$real" "${args[@]}" >>"$log" 2>&1 </dev/null &
pid=$!
echo $pid >"$state/serve-$n.pid"; echo "$admin" >"$state/serve-$n.admin"; echo "$dir" >"$state/serve-$n.dir"
for i in $(seq 600); do
	# Any answer will do: /healthz says 503 until the gateways are in service.
	curl -sk -o /dev/null --max-time 2 "$scheme://$admin/healthz" && exit 0
	kill -0 $pid 2>/dev/null || { echo "docs test: turnout serve exited before its /healthz answered:" >&2; cat "$log" >&2; rm -f "$state/serve-$n".{pid,admin,dir}; exit 1; }
	sleep 0.1
done
echo "docs test: turnout serve's /healthz ($scheme://$admin) did not answer in 60 s" >&2
exit 1
`

// runDocCommands runs a doc's commands, in a copy of the repository's
// files, and returns what went wrong: the first command that failed, and
// every promised output that is not there.
func runDocCommands(t *testing.T, repo string, files []string, doc string, cmds []docCommand) []string {
	dir := t.TempDir()
	work, state, bin := filepath.Join(dir, "work"), filepath.Join(dir, "state"), filepath.Join(dir, "bin")
	for _, d := range []string{state, bin, filepath.Join(work, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			continue // deleted, not yet committed
		}
		info, _ := os.Stat(filepath.Join(repo, f))
		os.MkdirAll(filepath.Dir(filepath.Join(work, f)), 0o755)
		if err := os.WriteFile(filepath.Join(work, f), data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	wrapper := filepath.Join(bin, "turnout")
	if err := os.WriteFile(wrapper, []byte(fmt.Sprintf(serveWrapper, binary, state)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(wrapper, filepath.Join(work, "bin", "turnout")); err != nil {
		t.Fatal(err)
	}

	var s strings.Builder
	fmt.Fprintf(&s, `set -u
ip link set lo up || exit 100
[ ! -d /opt ] || mount -t tmpfs tmpfs /opt || exit 100
export PATH=%q:"$PATH"
cd %q
trap 'turnout __stop' EXIT
trap 'exit 143' TERM
# make run is the Makefile's bin/turnout serve --demo (checkMakeRun), with
# bin/turnout in place.
make() { if [ "$*" = run ]; then bin/turnout serve --demo; else command make "$@"; fi; }
curl() { command curl --fail-with-body "$@"; }
__status() { return $1; }
__rc=0
`, bin, work)
	for i, c := range cmds {
		fmt.Fprintf(&s, "__status $__rc\n{\n%s\n} >%s 2>&1 </dev/null\n__rc=$?\necho $__rc >%s\n", c.text, filepath.Join(state, fmt.Sprintf("%d.out", i)), filepath.Join(state, fmt.Sprintf("%d.rc", i)))
		if i+1 < len(cmds) && strings.HasPrefix(cmds[i+1].text, "echo $?") {
			continue
		}
		fmt.Fprintf(&s, "[ $__rc = 0 ] || exit 0\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// A PID namespace too: whatever a doc starts ends with it (its init
	// is the shell; --kill-child ends that if the test has to kill unshare).
	cmd := exec.CommandContext(ctx, "unshare", "-n", "-m", "-p", "--fork", "--mount-proc", "--kill-child", "bash", "-c", s.String())
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	// The commands' output is in state/N.out; the shell's own is what went
	// wrong around them.
	out, runErr := cmd.CombinedOutput()
	logs := func() string {
		var b strings.Builder
		paths, _ := filepath.Glob(filepath.Join(state, "serve-*.log"))
		for _, p := range paths {
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "--- %s\n%s", filepath.Base(p), data)
		}
		return b.String()
	}
	var problems []string
	for i, c := range cmds {
		where := fmt.Sprintf("%s:%d (the block at line %d)", doc, c.line, c.block)
		rcText, err := os.ReadFile(filepath.Join(state, fmt.Sprintf("%d.rc", i)))
		output, _ := os.ReadFile(filepath.Join(state, fmt.Sprintf("%d.out", i)))
		if err != nil {
			return append(problems, fmt.Sprintf("%s: the doc's run ended (%v) in\n%s\noutput:\n%s\nthe shell's:\n%s\nserve logs:\n%s", where, runErr, c.text, output, out, logs()))
		}
		rc, _ := strconv.Atoi(strings.TrimSpace(string(rcText)))
		t.Logf("%s:%d: %s (exit %d)", doc, c.line, strings.SplitN(c.text, "\n", 2)[0], rc)
		if len(c.promised) > 0 && !promisedIn(c.promised, string(output)) {
			problems = append(problems, fmt.Sprintf("%s: the output of\n%s\nlacks what the doc promises under it:\n%s\noutput:\n%s", where, c.text, strings.Join(c.promised, "\n"), output))
		}
		allowed := i+1 < len(cmds) && strings.HasPrefix(cmds[i+1].text, "echo $?")
		if rc != 0 && !allowed {
			return append(problems, fmt.Sprintf("%s: exit %d from\n%s\noutput:\n%s\nserve logs:\n%s", where, rc, c.text, output, logs()))
		}
	}
	if runErr != nil {
		problems = append(problems, fmt.Sprintf("%s: the run failed after its last command: %v\n%s", doc, runErr, out))
	}
	return problems
}

// needNetns skips an end-to-end test that runs in a network namespace of
// its own where one cannot be made: -short, or not root (outside CI, which
// runs as root and so fails instead).
func needNetns(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("needs root for a network namespace (unshare -n); CI runs as root")
		}
		t.Skip("needs root for a network namespace (unshare -n)")
	}
	for _, tool := range []string{"unshare", "ip", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: %v", tool, err)
		}
	}
}

// The runner's conventions, on a doc made for them: two serves side by side
// (another admin address and data dir), an offline store command that stops
// the one holding its data dir, `echo $?` after a failure, promised output
// that is there and one that is not, and a failing command that ends the
// doc's run.
func TestDocRunnerConventions(t *testing.T) {
	needNetns(t)
	doc := "```sh\n" + `turnout serve --demo
turnout serve --admin 127.0.0.1:9881 --data-dir second
for i in 1 2; do curl -s localhost:8080/; done
# hello from simple-service-1.0.0 (GET /)
# hello ... 1.1.0 ...
turnout gateway list --addr 127.0.0.1:9881
# NAME  PORT  ROUTES  STICKY
turnout store check --data-dir second
turnout gateway list --addr 127.0.0.1:9881
echo $?
# 3
curl -s localhost:9880/healthz
# something else
false
echo never
` + "```\n"
	blocks, problems := parseDocBlocks("t.md", doc)
	if len(blocks) != 1 || len(problems) != 0 {
		t.Fatalf("%d blocks, %q", len(blocks), problems)
	}
	got := runDocCommands(t, t.TempDir(), nil, "t.md", splitCommands(t, blocks[0]))
	if len(got) != 2 {
		t.Fatalf("%d problems, want 2 (the promise at line 13, false at line 15):\n%s", len(got), strings.Join(got, "\n---\n"))
	}
	for i, want := range []string{"t.md:13 (the block at line 1): the output of\ncurl -s localhost:9880/healthz\nlacks", "t.md:15 (the block at line 1): exit 1 from\nfalse\n"} {
		if !strings.HasPrefix(got[i], want) {
			t.Errorf("problem %d:\n%s\nwant it to start with\n%s", i, got[i], want)
		}
	}
}
