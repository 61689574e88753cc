package main

// Port conflicts with Marathon-LB, all the time (issue 18, item 4): the
// real turnout binary against the fake Marathon.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/testnet"
)

// exposedOn is an app Marathon-LB (group external) exposes on port.
func exposedOn(id string, port int) fakemarathon.AppSpec {
	return fakemarathon.AppSpec{ID: id, Instances: 1, Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": fmt.Sprint(port)},
		Ports: []fakemarathon.PortSpec{{ContainerPort: 80}}}
}

// `serve -f` with a gateway on a port an app exposes through Marathon-LB
// used to serve it or refuse it depending on whether Marathon had been
// read yet. Now the gateways of the start wait for the first read: the
// outcome is the same every time, a refusal naming the app, whether
// Marathon answers at once or only after turnout is waiting for it (the
// fake holds its /v2/apps then, and the gateway's port must stay unbound
// meanwhile). 20 starts of the real binary, alternating the two.
func TestPortConflictAtStartIsTheSameEveryTime(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	port := testnet.FreePort(t)
	fm := fakemarathon.New(t, fakemarathon.Options{})
	fm.Deploy(fakemarathon.MarathonLBSpec("/marathon-lb", "external", true))
	fm.Deploy(exposedOn("/legacy", port))
	file := filepath.Join(t.TempDir(), "gateways.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf("name: clash\nport: %d/http\nroutes: {}\n", port)), 0o644); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`gateway "clash": port %d is taken by app /legacy (HAPROXY_0_PORT, Marathon-LB /marathon-lb group external)`, port)
	const runs = 20
	for i := range runs {
		held := i%2 == 0
		logs := &testnet.Buffer{}
		ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
		cmd := exec.CommandContext(ctx, binary, "serve", "-f", file, "--data-dir", t.TempDir(), "--bind", "127.0.0.1",
			"--admin", fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t)), "--marathon-url", fm.URL())
		cmd.Stdout, cmd.Stderr = logs, logs
		var release func()
		if held {
			release = fm.HoldApps()
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if held {
			testnet.Eventually(t, 20*time.Second, "turnout to wait for its first read of Marathon", func() bool {
				return strings.Contains(logs.String(), "waiting for the first read of Marathon")
			})
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				t.Errorf("run %d: the gateway's port is bound before Marathon was read", i)
			}
			release()
		}
		err := cmd.Wait()
		cancel()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != 1 || !strings.Contains(logs.String(), want) {
			t.Fatalf("run %d (Marathon held: %v): exit %d, want 1 and %q; logs:\n%s", i, held, code, want, logs.String())
		}
	}
	t.Logf("%d starts, every one refused the gateway with exit 1: %s", runs, want)
}

// A conflict that appears later, an app newly exposed on the port of a
// gateway in service, is a log line, a metric and a /readyz warning; the
// gateway keeps serving, /readyz stays 200, other changes are still
// accepted, and all of it goes once the app moves away.
func TestPortConflictThatAppearsLaterIsReported(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	fm := fakemarathon.New(t, fakemarathon.Options{})
	fm.Deploy(fakemarathon.MarathonLBSpec("/marathon-lb", "external", true))
	a := testnet.Backend(t, "a")
	port := testnet.FreePort(t)
	gw := func(name string, port int) string {
		return fmt.Sprintf("name: %s\nport: %d/http\nroutes:\n  \"[%s]\":\n    weight: 100%%\n", name, port, a)
	}
	tt := start(t, gw("clash", port), "--marathon-url", fm.URL())
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if got := get(t, http.DefaultClient, url); got != "a" {
		t.Fatalf("before: %q", got)
	}
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + tt.admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := readyz(); code != 200 || body != "ok\n" {
		t.Fatalf("/readyz before: %d %q", code, body)
	}

	fm.Deploy(exposedOn("/late", port))
	reason := fmt.Sprintf(`warning: port conflict: port %d: gateway "clash" and app /late (HAPROXY_0_PORT, Marathon-LB /marathon-lb group external)`, port)
	testnet.Eventually(t, 20*time.Second, "/readyz to name the conflict", func() bool {
		_, body := readyz()
		return strings.Contains(body, reason)
	})
	if code, body := readyz(); code != 200 || !strings.HasPrefix(body, "ok\n") {
		t.Errorf("/readyz with a later conflict: %d %q, want 200 ok and the warning", code, body)
	}
	metric := fmt.Sprintf(`turnout_port_conflicts{app="/late",gateway="clash",port="%d"} 1`, port)
	if m := tt.metrics(); !strings.Contains(m, metric) {
		t.Errorf("metrics lack %s", metric)
	}
	if l := tt.logs.String(); !strings.Contains(l, "event=port_conflict ") || !strings.Contains(l, fmt.Sprintf("port=%d app=/late", port)) {
		t.Errorf("no port_conflict log line:\n%s", l)
	}
	if got := get(t, http.DefaultClient, url); got != "a" {
		t.Errorf("the gateway in conflict answers %q, want it to keep serving", got)
	}
	// The conflict of a gateway in service refuses no other change.
	if code, _, body := apiCall(t, "PUT", "http://"+tt.admin+"/api/v1/gateways/other", "application/x-yaml", gw("other", testnet.FreePort(t))); code/100 != 2 {
		t.Errorf("PUT another gateway during the conflict: %d %s", code, body)
	}
	if code, _, body := apiCall(t, "PUT", "http://"+tt.admin+"/api/v1/gateways/clash", "application/x-yaml", gw("clash", port)); code/100 != 2 {
		t.Errorf("PUT the gateway in conflict unchanged: %d %s", code, body)
	}

	// The app moves off the port: the warning, the series and the log
	// line's counterpart follow.
	fm.Deploy(exposedOn("/late", testnet.FreePort(t)+20000))
	testnet.Eventually(t, 20*time.Second, "/readyz to drop the warning", func() bool {
		code, body := readyz()
		return code == 200 && body == "ok\n"
	})
	if m := tt.metrics(); strings.Contains(m, `turnout_port_conflicts{`) {
		t.Errorf("a turnout_port_conflicts series is left after the conflict went")
	}
	if !strings.Contains(tt.logs.String(), "event=port_conflict_resolved") {
		t.Errorf("no port_conflict_resolved log line")
	}
	// And the event stream says both.
	for _, e := range kept(t, tt.admin, "type=port", events.PortConflict, events.PortResolved) {
		if e.Gateway != "clash" || !strings.Contains(e.Reason, "app /late") {
			t.Errorf("port event %+v", e)
		}
	}
}

// A gateway range that overlaps Marathon-LB's service port range is
// refused at start, with both ranges named.
func TestServeRefusesAGatewayRangeOverMarathonLBs(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	fm := fakemarathon.New(t, fakemarathon.Options{})
	out, code := turnoutCLI(t, "serve", "--data-dir", t.TempDir(), "--admin", fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t)),
		"--marathon-url", fm.URL(), "--port-range", "9000-10050")
	want := "--port-range 9000-10050 overlaps --marathon-lb-range 10000-10100, Marathon-LB's service port range"
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("exit %d, want 1 and %q:\n%s", code, want, out)
	}
	if n := fm.Requests("/v2/apps"); n != 0 {
		t.Errorf("Marathon was read %d times before the refusal", n)
	}
}

// `turnout check ports --addr` reads the running turnout's gateway range
// (and Marathon-LB's) from its API, and takes the token flags and
// environment serve takes: --token-file for the admin API,
// TURNOUT_DCOS_ACS_TOKEN for Marathon.
func TestCheckPortsReadsTheRunningTurnout(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	lo := testnet.FreePorts(t, 10)
	hi := lo + 9
	fm := fakemarathon.New(t, fakemarathon.Options{Token: "marathon-secret"})
	fm.Deploy(fakemarathon.MarathonLBSpec("/marathon-lb", "external", true))
	fm.Deploy(exposedOn("/inrange", lo+5))
	tt := start(t, fmt.Sprintf("name: edge\nport: %d/http\nroutes: {}\n", lo),
		"--port-range", fmt.Sprintf("%d-%d", lo, hi), "--token", "admin-secret", "--marathon-url", fm.URL(), "--dcos-acs-token", "marathon-secret")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("admin-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	code := runTurnout(t, []string{"TURNOUT_DCOS_ACS_TOKEN=marathon-secret", "TURNOUT_MARATHON_URL=" + fm.URL()}, &out, &errb,
		"check", "ports", "--addr", tt.admin, "--token-file", tokenFile)
	flat := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{
		fmt.Sprintf("%d Turnout's gateway port range %d-%d app /inrange (HAPROXY_0_PORT, Marathon-LB /marathon-lb group external)", lo+5, lo, hi),
		fmt.Sprintf("checked 1 gateway (range %d-%d)", lo, hi),
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code != 1 || errb.String() != "turnout: 1 port conflict\n" {
		t.Errorf("exit %d, stderr %q; want 1 and one conflict\n%s", code, errb.String(), out.String())
	}
	// Without the Marathon token (nothing in the environment either),
	// Marathon refuses: exit 1 with its answer.
	out.Reset()
	errb.Reset()
	code = runTurnout(t, []string{"TURNOUT_DCOS_ACS_TOKEN="}, &out, &errb, "check", "ports", "--marathon-url", fm.URL())
	if code != 1 || !strings.Contains(errb.String(), "401") {
		t.Errorf("without a Marathon token: exit %d, stderr %q; want 1 and Marathon's 401", code, errb.String())
	}
}

// Marathon over HTTPS with the cluster's CA (issue 18, item 5): check
// ports and serve's port check read it with --marathon-ca-cert; without
// the CA, serve waits --marathon-wait for the first read, then starts its
// gateways unchecked and says so.
func TestMarathonOverHTTPSWithCA(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	tlsConfig, caFile := fakemarathon.TLS(t)
	fm := fakemarathon.New(t, fakemarathon.Options{TLS: tlsConfig})
	fm.Deploy(fakemarathon.MarathonLBSpec("/marathon-lb", "external", true))

	out, code := turnoutCLI(t, "check", "ports", "--marathon-url", fm.URL(), "--marathon-ca-cert", caFile)
	if code != 0 || !strings.Contains(out, "Marathon-LB /marathon-lb (group external) binds 80, 443, 9090, 9091, 10000-10100") {
		t.Errorf("check ports over HTTPS: exit %d\n%s", code, out)
	}
	out, code = turnoutCLI(t, "check", "ports", "--marathon-url", fm.URL())
	if code != exitUnreachable || !strings.Contains(out, "certificate signed by unknown authority") {
		t.Errorf("check ports over HTTPS without the CA: exit %d\n%s", code, out)
	}

	file := filepath.Join(t.TempDir(), "gateways.yaml")
	if err := os.WriteFile(file, []byte("name: stats\nport: 9090/http\nroutes: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	serveArgs := func(extra ...string) []string {
		return append([]string{"serve", "-f", file, "--data-dir", t.TempDir(), "--bind", "127.0.0.1",
			"--admin", fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t)), "--marathon-url", fm.URL()}, extra...)
	}
	out, code = turnoutCLI(t, serveArgs("--marathon-ca-cert", caFile)...)
	if want := `gateway "stats": port 9090 is taken by Marathon-LB /marathon-lb (stats and admin port)`; code != 1 || !strings.Contains(out, want) {
		t.Errorf("serve over HTTPS: exit %d, want 1 and %q\n%s", code, want, out)
	}

	// Without the CA Marathon is never read: past the bound the gateway
	// starts, unchecked, and the log says why.
	tt := &turnout{t: t, logs: &testnet.Buffer{}}
	args := serveArgs("--marathon-wait", "500ms")
	tt.admin = args[len(args)-5]
	tt.cmd = exec.Command(binary, args...)
	tt.cmd.Stdout, tt.cmd.Stderr = tt.logs, tt.logs
	if err := tt.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tt.stop)
	testnet.Eventually(t, 20*time.Second, "the gateway to start unchecked", func() bool {
		return strings.Contains(tt.logs.String(), "turnout serving")
	})
	if l := tt.logs.String(); !strings.Contains(l, "Marathon not read in time") {
		t.Errorf("no warning that the gateways started unchecked:\n%s", l)
	}
	// Why Marathon cannot be read is logged too (in the warning itself
	// when the first read failed before the bound, which a loaded
	// machine may not see).
	testnet.Eventually(t, 20*time.Second, "the log to say the CA is unknown", func() bool {
		return strings.Contains(tt.logs.String(), "unknown authority")
	})
}
