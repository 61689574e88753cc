package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// The CLI end to end: the real binary driving a real `turnout serve`, with
// real requests checking that each command reached the data plane.
func TestCLIDrivesARunningTurnout(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	data, pins := t.TempDir(), seedPins(t)
	tt := run(t, append([]string{"--data-dir", data}, pins...)...)
	port := testnet.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	file := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(file, []byte(seed(port, "50%", "50%")), 0o644); err != nil {
		t.Fatal(err)
	}

	// turnout runs the CLI against tt and checks its exit code.
	turnout := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := runTurnout(t, []string{"TURNOUT_ADDR=" + tt.admin}, &out, &errb, args...); code != wantCode {
			t.Fatalf("turnout %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out.String(), errb.String())
		}
		return out.String(), errb.String()
	}
	firefox := http.Header{"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"}}
	// splitIs waits for a change to reach the data plane (it follows the
	// store asynchronously), then measures.
	splitIs := func(what string, h http.Header, want float64) {
		t.Helper()
		testnet.Eventually(t, 5*time.Second, what, func() bool {
			got := split(t, url, 100, 4, h)
			return math.Abs(float64(got["1.0.0"])-want) <= 8
		})
		got := split(t, url, 2000, 8, h)
		within(t, what+": 1.0.0", got["1.0.0"], 2000, want, 3)
	}

	if out, _ := turnout(0, "gateway", "apply", "-f", file); out != "gateway/simpleservice created (revision 1)\n" {
		t.Fatalf("first apply: %q", out)
	}
	splitIs("applied at 50/50", nil, 50)
	if out, _ := turnout(0, "gateway", "apply", "-f", file); out != "gateway/simpleservice unchanged (revision 1)\n" {
		t.Fatalf("second apply: %q", out)
	}

	out, _ := turnout(0, "gateway", "update", "simpleservice", "--weights", "1.0.0@90%,1.1.0@10%")
	if !strings.Contains(out, "revision 2") || !strings.Contains(out, "1.0.0.marathon.l4lb.thisdcos.directory:3000]  90%") {
		t.Fatalf("update output:\n%s", out)
	}
	splitIs("updated to 90/10", nil, 90)

	out, _ = turnout(0, "gateway", "get", "simpleservice", "-o", "json")
	var doc struct {
		Name   string `json:"name"`
		Routes map[string]struct {
			Weight string `json:"weight"`
		} `json:"routes"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Name != "simpleservice" || doc.Routes[r100].Weight != "90%" {
		t.Fatalf("get -o json: %v %+v\n%s", err, doc, out)
	}

	out, _ = turnout(0, "gateway", "history", "simpleservice")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "REVISION") ||
		!strings.HasPrefix(lines[2], "2 ") {
		t.Fatalf("history, want a header and 2 revisions:\n%s", out)
	}

	turnout(0, "gateway", "rollback", "simpleservice", "--to", "1")
	splitIs("rolled back to revision 1", nil, 50)

	turnout(0, "gateway", "update", "simpleservice", "--route", "1.1.0", "--condition", "user-agent == Firefox", "--strength", "100%")
	splitIs("Firefox with a condition on 1.1.0", firefox, 0)
	turnout(0, "gateway", "update", "simpleservice", "--route", "1.1.0", "--condition", "null")
	splitIs("Firefox after the condition is cleared", firefox, 50)

	// Exit codes.
	if _, errs := turnout(2, "gateway", "update", "simpleservice", "--weights", "1.0.0@90%,1.1.0@10%", "--route", "1.1.0", "--condition", "x"); !strings.HasPrefix(errs, "turnout: ") {
		t.Errorf("usage error: %q", errs)
	}
	if _, errs := turnout(1, "gateway", "update", "simpleservice", "--weights", "1.0.0@40%,1.1.0@50%"); !strings.Contains(errs, "100%") {
		t.Errorf("refusal does not carry the server's message: %q", errs)
	}
	closed := "127.0.0.1:" + strconv.Itoa(testnet.FreePort(t))
	if _, errs := turnout(3, "gateway", "list", "--addr", closed); !strings.Contains(errs, "cannot reach turnout") {
		t.Errorf("unreachable: %q", errs)
	}
	turnout(2, "gateway", "get")
	turnout(2, "completion", "tcsh")
	if out, _ := turnout(0, "completion", "bash"); !strings.Contains(out, "turnout") {
		t.Error("completion bash printed no script")
	}
	// The refused updates left the data plane as it was.
	splitIs("after refused updates", nil, 50)

	// A restart finds the same state: the revision before it, and its split.
	before, _ := turnout(0, "gateway", "get", "simpleservice", "-o", "json")
	out, _ = turnout(0, "gateway", "history", "simpleservice")
	revisions := strings.Count(strings.TrimSpace(out), "\n")
	tt.stop()
	tt = run(t, append([]string{"--data-dir", data}, pins...)...)
	if after, _ := turnout(0, "gateway", "get", "simpleservice", "-o", "json"); after != before {
		t.Fatalf("after a restart the gateway is\n%s\nwas\n%s", after, before)
	}
	if out, _ := turnout(0, "gateway", "history", "simpleservice"); strings.Count(strings.TrimSpace(out), "\n") != revisions {
		t.Fatalf("after a restart the history is\n%s", out)
	}
	splitIs("after a restart", nil, 50)
}

// A bad --log-level or --log-format is a usage error that lists the valid
// values, before anything starts.
func TestServeRefusesABadLogLevel(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"--log-level", "verbose", `turnout: --log-level "verbose": want debug, info, warn or error` + "\n"},
		{"--log-format", "xml", `turnout: --log-format "xml": want text or json` + "\n"},
	} {
		var out, errb bytes.Buffer
		code := runTurnout(t, nil, &out, &errb, "serve", tc.flag, tc.value, "--data-dir", t.TempDir(), "--admin", "127.0.0.1:0")
		if code != exitUsage || errb.String() != tc.want {
			t.Errorf("serve %s %s: exit %d, stderr %q; want %d and %q", tc.flag, tc.value, code, errb.String(), exitUsage, tc.want)
		}
	}
}

// serve's help says what serve does without -f: it serves the store's
// gateways only (a fresh store: none); the built-in example comes with
// --demo.
func TestServeWithoutFileServesTheStoreOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	help, _ := turnoutCLI(t, "serve", "--help")
	var line string
	for _, l := range strings.Split(help, "\n") {
		if strings.Contains(l, "--file") {
			line = l
		}
	}
	if strings.Contains(line, "default: the built-in example") || !strings.Contains(line, "without -f only the store's") {
		t.Errorf("serve --help on -f: %q", line)
	}
	tt := run(t, "--data-dir", t.TempDir())
	if out, code := tt.cli("gateway", "list", "-o", "json"); code != 0 || out != "[]\n" {
		t.Fatalf("serve without -f on a fresh store serves: exit %d %s", code, out)
	}
}
