package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEQuickStartAndCLIBlock runs the README's quick start (`make
// run`, then its curl block, whose comments are the output it promises)
// and its CLI block as written, through the real binary. They name fixed
// ports (8080, 9880, 3001, 3002), so they run in a network namespace of
// their own, where those ports are free whatever else runs on the machine.
func TestREADMEQuickStartAndCLIBlock(t *testing.T) {
	needNetns(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	curls := shBlockAfter(t, string(readme), "In another terminal:")
	cli := shBlockAfter(t, string(readme), "## Driving it from a pipeline")

	// The quick start's first command, `make run`, is `bin/turnout serve
	// --demo` (Makefile); bin/turnout is the binary under test.
	repo, _ := filepath.Abs("../..")
	bin := t.TempDir()
	if err := os.Symlink(binary, filepath.Join(bin, "turnout")); err != nil {
		t.Fatal(err)
	}
	var commands, promised []string
	for _, l := range strings.Split(curls, "\n") {
		if c, ok := strings.CutPrefix(l, "# "); ok {
			promised = append(promised, c)
		} else if strings.TrimSpace(l) != "" {
			commands = append(commands, l)
		}
	}
	script := fmt.Sprintf(`set -eu
ip link set lo up
cd %q
%s/turnout serve --demo >%s/serve.log 2>&1 &
# The namespace outlives this shell: stop the server with it.
trap 'kill $! 2>/dev/null; wait' EXIT
for i in $(seq 100); do curl -sf localhost:9880/healthz >/dev/null && break; sleep 0.1; done
echo '--- quick start'
%s
echo '--- cli'
%s
`, repo, bin, bin, strings.Join(commands, "\n"), strings.ReplaceAll(cli, "bin/turnout", bin+"/turnout"))
	out, err := exec.Command("unshare", "-n", "bash", "-c", script).CombinedOutput()
	log, _ := os.ReadFile(filepath.Join(bin, "serve.log"))
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s\nserve's log:\n%s", err, out, log)
	}
	got := string(out)
	quick, rest, _ := strings.Cut(strings.TrimPrefix(got, "--- quick start\n"), "--- cli\n")
	// The split is 50/50 by weight; the promised lines are its first four.
	if !strings.HasPrefix(quick, strings.Join(promised[:4], "\n")+"\n") {
		t.Errorf("the quick start printed\n%s\nthe README promises\n%s", quick, strings.Join(promised, "\n"))
	}
	if !strings.Contains(quick, "turnout_requests_total") {
		t.Errorf("the metrics command printed no turnout_requests_total:\n%s", quick)
	}
	for _, want := range []string{"simpleservice", "revision"} {
		if !strings.Contains(rest, want) {
			t.Errorf("the CLI block's output lacks %q:\n%s", want, rest)
		}
	}
	t.Logf("README commands:\n%s", got)
}

// shBlockAfter is the first ```sh block after the line containing marker.
func shBlockAfter(t *testing.T, doc, marker string) string {
	t.Helper()
	_, after, ok := strings.Cut(doc, marker)
	if !ok {
		t.Fatalf("the README has no %q", marker)
	}
	_, block, ok := strings.Cut(after, "```sh\n")
	if !ok {
		t.Fatalf("no sh block after %q", marker)
	}
	block, _, _ = strings.Cut(block, "```")
	return strings.TrimSpace(block)
}

// TestAPIDocExamplesRunInOrder runs docs/api.md's Reading and Changing
// blocks, in order, against `turnout serve --demo` as the doc says, in a
// network namespace of their own (port 9880 is fixed). Every request must
// succeed: the If-Match, the validate_only POST of a gateway that exists,
// the rollback and the delete included.
func TestAPIDocExamplesRunInOrder(t *testing.T) {
	needNetns(t)
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	reading := shBlockAfter(t, string(doc), "## Reading")
	changing := shBlockAfter(t, string(doc), "## Changing")
	// The commands run where the doc's relative paths lead: a copy of the
	// files they name, not the repository itself.
	work := t.TempDir()
	defaults, err := os.ReadFile("defaults/gateways.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(work, "cmd/turnout/defaults"), 0o755)
	os.WriteFile(filepath.Join(work, "cmd/turnout/defaults/gateways.yaml"), defaults, 0o644)
	script := fmt.Sprintf(`set -eu
ip link set lo up
cd %q
%q serve --demo >serve.log 2>&1 &
# The namespace outlives this shell: stop the server with it.
trap 'kill $! 2>/dev/null; wait' EXIT
for i in $(seq 100); do command curl -sf localhost:9880/healthz >/dev/null && break; sleep 0.1; done
# Each request's status on a line of its own, for the test to check.
curl() { command curl -w '\nSTATUS %%{http_code}\n' "$@"; }
%s
%s
`, work, binary, reading, changing)
	out, err := exec.Command("unshare", "-n", "bash", "-c", script).CombinedOutput()
	log, _ := os.ReadFile(filepath.Join(work, "serve.log"))
	if err != nil {
		t.Fatalf("the doc's commands failed: %v\n%s\nserve's log:\n%s", err, out, log)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if code, ok := strings.CutPrefix(l, "STATUS "); ok {
			n++
			if code[0] != '2' {
				t.Errorf("request %d answered %s:\n%s", n, code, out)
			}
		}
	}
	if want := strings.Count(reading+changing, "curl "); n != want {
		t.Errorf("%d requests answered, the doc has %d:\n%s", n, want, out)
	}
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
