package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/testnet"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/check from the output of turnout check ports")

// golden compares got with testdata/check/NAME (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "check", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update after checking):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// fakeAdmin serves GET /api/v1/gateways as turnout's admin API does, for
// the in-process tests (the end-to-end test below uses the real one).
func fakeAdmin(t *testing.T, gateways string) string {
	t.Helper()
	return serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/gateways" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Total-Count", fmt.Sprint(strings.Count(gateways, `"name"`)))
		fmt.Fprint(w, gateways)
	})).String()
}

// checkPorts runs `turnout check ports` in process.
func checkPorts(args ...string) (out string, code int, msg string) {
	cmd := newRootCommand()
	var b, e bytes.Buffer
	cmd.SetOut(&b)
	cmd.SetErr(&e)
	cmd.SetArgs(append([]string{"check", "ports"}, args...))
	if err := cmd.Execute(); err != nil {
		return b.String(), exitCode(err), err.Error()
	}
	return b.String(), 0, ""
}

func TestCheckPorts(t *testing.T) {
	legacy := fakemarathon.AppSpec{ID: "/legacy", Instances: 1, Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": "8080"},
		Ports: []fakemarathon.PortSpec{{ContainerPort: 80, ServicePort: 10020}}}
	for _, tc := range []struct {
		golden   string
		bind     bool
		apps     []fakemarathon.AppSpec
		gateways string
		args     []string
		code     int
		msg      string
	}{
		{golden: "bind-on-clean.txt", bind: true, gateways: `[{"name":"simpleservice","port":"8080/http","routes":{}}]`},
		{golden: "bind-on-conflicts.txt", bind: true, code: 1, msg: "4 port conflicts",
			gateways: `[{"name":"web","port":"80/http","routes":{}},{"name":"stats","port":"9090/http","routes":{}},{"name":"api","port":"10000/tcp","routes":{}},{"name":"simpleservice","port":"8080/http","routes":{}}]`},
		{golden: "bind-off.txt", bind: false, gateways: `[{"name":"web","port":"80/http","routes":{}},{"name":"tls","port":"443/tcp","routes":{}}]`},
		{golden: "haproxy-port-in-gateway-range.txt", bind: true, apps: []fakemarathon.AppSpec{legacy}, code: 1, msg: "1 port conflict"},
		{golden: "haproxy-port-on-gateway.txt", bind: true, apps: []fakemarathon.AppSpec{legacy}, code: 1, msg: "1 port conflict",
			gateways: `[{"name":"simpleservice","port":"8080/http","routes":{}}]`},
		{golden: "haproxy-port-on-gateway.json", bind: true, apps: []fakemarathon.AppSpec{legacy}, code: 1, msg: "1 port conflict",
			gateways: `[{"name":"simpleservice","port":"8080/http","routes":{}}]`, args: []string{"-o", "json"}},
		{golden: "haproxy-port-on-gateway.yaml", bind: true, apps: []fakemarathon.AppSpec{legacy}, code: 1, msg: "1 port conflict",
			gateways: `[{"name":"simpleservice","port":"8080/http","routes":{}}]`, args: []string{"-o", "yaml"}},
		{golden: "other-ranges.txt", bind: true, apps: []fakemarathon.AppSpec{legacy}, code: 1, msg: "1 port conflict",
			gateways: `[{"name":"spare","port":"10150/http","routes":{}}]`, args: []string{"--gateway-range", "7000-7999", "--marathon-lb-range", "10100-10200"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			fm := fakemarathon.New(t, fakemarathon.Options{Apps: [][]byte{fakemarathon.Fixture("marathon-lb/tests/zdd_apps.json")}})
			fm.Deploy(fakemarathon.MarathonLBSpec("/marathon-lb", "external", tc.bind))
			for _, a := range tc.apps {
				fm.Deploy(a)
			}
			args := append([]string{"--marathon-url", fm.URL()}, tc.args...)
			if tc.gateways != "" {
				args = append(args, "--addr", fakeAdmin(t, tc.gateways))
			}
			out, code, msg := checkPorts(args...)
			if code != tc.code || msg != tc.msg {
				t.Fatalf("exit %d %q, want %d %q\n%s", code, msg, tc.code, tc.msg, out)
			}
			golden(t, tc.golden, out)
		})
	}
}

func TestCheckPortsFailures(t *testing.T) {
	dead := fmt.Sprintf("http://127.0.0.1:%d", testnet.FreePort(t))
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--marathon-url", dead}, exitUnreachable, "marathon: no member answered: " + dead + ": "},
		{[]string{"--gateway-range", "9999-8000"}, exitUsage, `--gateway-range: port range "9999-8000": want FIRST-LAST within 1-65535, e.g. 8000-9999`},
		{[]string{"--gateway-range", "8000-10050"}, exitUsage, "the gateway port range 8000-10050 overlaps Marathon-LB's service port range 10000-10100"},
		{[]string{"--marathon-url", "marathon.mesos"}, exitUsage, `--marathon-url: Marathon URL "marathon.mesos": want http(s)://host:port[/prefix]`},
		{[]string{"-o", "xml"}, exitUsage, `--output "xml": want table, json or yaml`},
		{[]string{"extra"}, exitUsage, `unknown command "extra" for "turnout check ports"`},
	} {
		_, code, msg := checkPorts(tc.args...)
		if code != tc.code || !strings.HasPrefix(msg, tc.msg) {
			t.Errorf("%v: exit %d %q, want %d %q", tc.args, code, msg, tc.code, tc.msg)
		}
	}
}

// The real binary: a running turnout's gateway on a port Marathon-LB binds
// for an app.
func TestCheckPortsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	port := testnet.FreePort(t)
	tt := start(t, fmt.Sprintf("name: clash\nport: %d/http\nroutes: {}\n", port))
	fm := fakemarathon.New(t, fakemarathon.Options{})
	fm.Deploy(fakemarathon.MarathonLBSpec("/marathon-lb", "external", true))
	fm.Deploy(fakemarathon.AppSpec{ID: "/clashing", Instances: 1, Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": fmt.Sprint(port)},
		Ports: []fakemarathon.PortSpec{{ContainerPort: 80}}})

	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := runTurnout(t, nil, &out, &errb, append([]string{"check", "ports", "--marathon-url", fm.URL()}, args...)...)
		return out.String(), errb.String(), code
	}
	out, stderr, code := run("--addr", tt.admin)
	want := fmt.Sprintf(`%d gateway "clash" app /clashing (HAPROXY_0_PORT, Marathon-LB /marathon-lb group external)`, port)
	if code != 1 || !strings.Contains(strings.Join(strings.Fields(out), " "), want) || stderr != "turnout: 1 port conflict\n" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr: %s", code, out, stderr)
	}
	// Without --addr only Marathon is read: no gateway, no conflict.
	if out, _, code := run("-o", "json"); code != 0 || !strings.Contains(out, `"conflicts":[]`) {
		t.Fatalf("without --addr: exit %d\n%s", code, out)
	}
}
