package main

// Route scale through the real binary (issue 24 item 4): the limits on
// routes per gateway and gateways per agent, and a gateway of thousands
// of routes created and taken down while the API keeps answering.

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// routesDoc is a gateway of n routes to [127.0.0.1:20000+i], the first
// taking all the traffic (to target, if given), in YAML's flow style.
func routesDoc(name string, port, n int, target string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nport: %d/http\nroutes:\n", name, port)
	for i := range n {
		t, w := fmt.Sprintf("127.0.0.1:%d", 20000+i), 0
		if i == 0 {
			w = 100
			if target != "" {
				t = target
			}
		}
		fmt.Fprintf(&b, "  \"[%s]\": {weight: %d%%}\n", t, w)
	}
	return b.String()
}

func TestLimitsRefuseGatewaysOverThem(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a := testnet.Backend(t, "a")
	port := testnet.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	tt := start(t, routesDoc("g", port, 2, a), "--max-routes-per-gateway", "5", "--max-gateways", "2")
	api := "http://" + tt.admin + "/api/v1/gateways"
	wantRefusal := func(what string, code int, body string, parts ...string) {
		t.Helper()
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d %s, want 422", what, code, body)
		}
		for _, p := range parts {
			if !strings.Contains(body, p) {
				t.Errorf("%s: message %s does not say %q", what, body, p)
			}
		}
	}

	// Over the routes limit: PUT of a new gateway, PUT of the gateway in
	// service, POST, and the same with validate_only.
	big := routesDoc("big", testnet.FreePort(t), 6, "")
	code, _, body := apiCall(t, "PUT", api+"/big", "application/x-yaml", big)
	wantRefusal("PUT big (6 routes)", code, body, `gateway \"big\" has 6 routes`, "limit of 5 routes per gateway", "--max-routes-per-gateway")
	code, _, body = apiCall(t, "PUT", api+"/g", "application/x-yaml", routesDoc("g", port, 6, a))
	wantRefusal("PUT g (6 routes)", code, body, `gateway \"g\" has 6 routes`, "--max-routes-per-gateway")
	code, _, body = apiCall(t, "POST", api+"?validate_only=true", "application/x-yaml", big)
	wantRefusal("POST big, validate only", code, body, "--max-routes-per-gateway")
	// At the limit is fine.
	if code, _, body := apiCall(t, "PUT", api+"/five", "application/x-yaml", routesDoc("five", testnet.FreePort(t), 5, "")); code != 201 {
		t.Fatalf("PUT five (5 routes): %d %s", code, body)
	}
	// Over the gateways limit (g and five are 2).
	code, _, body = apiCall(t, "PUT", api+"/third", "application/x-yaml", routesDoc("third", testnet.FreePort(t), 1, ""))
	wantRefusal("PUT third", code, body, `gateway \"third\" would make 3 gateways`, "limit of 2", "--max-gateways")

	// Nothing changed: the refused gateways are absent, g keeps its 2 routes
	// and its traffic.
	for _, name := range []string{"big", "third"} {
		if code, _, _ := apiCall(t, "GET", api+"/"+name, "", ""); code != 404 {
			t.Errorf("GET %s after its refusal: %d, want 404", name, code)
		}
	}
	if n := len(tt.status("g").Routes); n != 2 {
		t.Errorf("g has %d routes in service after the refused PUT, want 2", n)
	}
	if got := get(t, http.DefaultClient, url); got != "a" {
		t.Fatalf("g answers %q after the refusals", got)
	}

	// gateway apply: the server's refusal, exit 1, the message on stderr.
	file := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(file, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := runTurnout(t, []string{"TURNOUT_ADDR=" + tt.admin}, &out, &errb, "gateway", "apply", "-f", file); code != exitRefused {
		t.Fatalf("gateway apply of 6 routes: exit %d, want %d\n%s%s", code, exitRefused, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), `gateway "big" has 6 routes, over the limit of 5 routes per gateway (--max-routes-per-gateway)`) {
		t.Errorf("gateway apply's message: %q", errb.String())
	}

	// A reload of the file over the limit is refused and g keeps serving.
	tt.reload(routesDoc("g", port, 6, a))
	testnet.Eventually(t, 10*time.Second, "the reload's refusal to be logged", func() bool {
		return strings.Contains(tt.logs.String(), `gateway \"g\" has 6 routes, over the limit of 5`)
	})
	if n := len(tt.status("g").Routes); n != 2 {
		t.Errorf("g has %d routes in service after the refused reload, want 2", n)
	}
	if got := get(t, http.DefaultClient, url); got != "a" {
		t.Fatalf("g answers %q after the refused reload", got)
	}

	// serve -f with a file over the limit (set by the environment) does not
	// start.
	out.Reset()
	errb.Reset()
	env := []string{"TURNOUT_MAX_ROUTES_PER_GATEWAY=5"}
	admin := fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t))
	code = runTurnout(t, env, &out, &errb, "serve", "-f", file, "--data-dir", t.TempDir(), "--admin", admin, "--bind", "127.0.0.1")
	if code == 0 || !strings.Contains(errb.String(), `gateway "big" has 6 routes, over the limit of 5 routes per gateway (--max-routes-per-gateway)`) {
		t.Fatalf("serve -f with 6 routes: exit %d, stderr %q", code, errb.String())
	}
	// A bad limit is refused before anything starts.
	errb.Reset()
	code = runTurnout(t, []string{"TURNOUT_MAX_GATEWAYS=many"}, &out, &errb, "serve", "-f", file, "--data-dir", t.TempDir(), "--admin", admin)
	if code == 0 || !strings.Contains(errb.String(), `TURNOUT_MAX_GATEWAYS="many"`) {
		t.Fatalf("TURNOUT_MAX_GATEWAYS=many: exit %d, stderr %q", code, errb.String())
	}
}

// TestThousandsOfRoutesComeAndGo creates a gateway of 5,000 routes with a
// raised limit, then takes it down to one route, while another gateway
// keeps serving traffic and the API answers small writes to it. Not one
// request may fail; no timing is asserted (the machine is shared).
func TestThousandsOfRoutesComeAndGo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	const routes = 5000
	a, b := testnet.Backend(t, "a"), testnet.Backend(t, "b")
	port := testnet.FreePort(t)
	small := fmt.Sprintf("name: small\nport: %d/http\nroutes:\n  \"[%s]\": {weight: 100%%}\n  \"[%s]\": {weight: 0%%}\n", port, a, b)
	tt := run(t, "--data-dir", t.TempDir(), "--max-routes-per-gateway", fmt.Sprint(routes))
	api := "http://" + tt.admin + "/api/v1/gateways"
	if code, _, body := apiCall(t, "PUT", api+"/small", "application/x-yaml", small); code != 201 {
		t.Fatalf("PUT small: %d %s", code, body)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	testnet.Eventually(t, 10*time.Second, "small to serve", func() bool {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	traffic := startLoad(t, url, loadOptions{clients: 2, pace: 5 * time.Millisecond})
	bigPort := testnet.FreePort(t)
	weights := func(wa, wb int) string {
		return fmt.Sprintf(`{"routes": {"[%s]": {"weight": "%d%%"}, "[%s]": {"weight": "%d%%"}}}`, a, wa, b, wb)
	}
	// smallWrite is a weight change of small, then a rollback to its
	// first revision: both must be answered while big changes.
	smallWrite := func(when string) {
		t.Helper()
		if code, _, body := apiCall(t, "PATCH", api+"/small", "application/merge-patch+json", weights(50, 50)); code != 200 {
			t.Fatalf("PATCH small %s: %d %s", when, code, body)
		}
		if code, _, body := apiCall(t, "POST", api+"/small/rollback?to=1", "", ""); code != 200 {
			t.Fatalf("rollback of small %s: %d %s", when, code, body)
		}
	}

	if code, _, body := apiCall(t, "PUT", api+"/big", "application/x-yaml", routesDoc("big", bigPort, routes, a)); code != 201 {
		t.Fatalf("PUT big (%d routes): %d %s", routes, code, body)
	}
	smallWrite("while big's table is built")
	tt.awaitStatus("big", time.Minute, fmt.Sprintf("big's %d routes in service", routes), func(s e2eStatus) bool { return len(s.Routes) == routes })
	if got := get(t, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/", bigPort)); got != "a" {
		t.Fatalf("big answers %q", got)
	}

	if code, _, body := apiCall(t, "PUT", api+"/big", "application/x-yaml", routesDoc("big", bigPort, 1, a)); code != 200 {
		t.Fatalf("PUT big (1 route): %d %s", code, body)
	}
	smallWrite("while big's routes are removed")
	tt.awaitStatus("big", time.Minute, "big down to one route", func(s e2eStatus) bool { return len(s.Routes) == 1 })
	// Every route has its connect-error series from the start: only the
	// route left may have one now.
	if n := strings.Count(tt.metrics(), `turnout_errors_total{gateway="big",kind="connect",route=`); n != 1 {
		t.Errorf("big's routes with series after the removal: %d, want 1 (the removed routes' series linger)", n)
	}
	traffic.await(t, 50, "after the changes")
	traffic.finish(t, "small's traffic through big's changes")
	st := tt.status("small")
	if w := st.route("[" + a + "]").Weight; w != "100%" {
		t.Errorf("small's route to a weighs %s after the rollbacks, want 100%%", w)
	}
}

// TestApplyAThousandGatewaysInOneSwap applies a file of 1,000 gateways
// with the CLI: one request, one store commit, one routing table swap
// (turnout_table_swaps_total moves by one), every gateway served; applying
// it again changes nothing, and a file with one bad gateway changes
// nothing either (issue 25 item 4).
func TestApplyAThousandGatewaysInOneSwap(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	a := testnet.Backend(t, "a")
	// The gateways' ports lie below the kernel's ephemeral range (from
	// 32768), where other tests' connections would take them.
	tt := run(t, "--data-dir", t.TempDir(), "--port-range", "23000-24999", "--max-gateways", "2000")
	const n = 1000
	var doc strings.Builder
	for i := range n {
		fmt.Fprintf(&doc, "---\nname: g%04d\nroutes:\n  \"[%s]\": {}\n", i, a)
	}
	file := filepath.Join(t.TempDir(), "gateways.yaml")
	if err := os.WriteFile(file, []byte(doc.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	swaps := tt.metric("turnout_table_swaps_total")
	goroutines, heap := mustAtoi(t, tt.metric("go_goroutines")), mustAtof(t, tt.metric("go_memstats_heap_inuse_bytes"))
	out, code := tt.cli("gateway", "apply", "-f", file)
	if code != 0 || strings.Count(out, " created (revision 1)\n") != n {
		t.Fatalf("apply: exit %d, %d created lines\n%.500s", code, strings.Count(out, " created (revision 1)\n"), out)
	}
	testnet.Eventually(t, 60*time.Second, "the gateways in service", func() bool {
		return tt.metric("turnout_table_swaps_total") != swaps
	})
	if got := tt.metric("turnout_table_swaps_total"); got != fmt.Sprint(mustAtoi(t, swaps)+1) {
		t.Errorf("table swaps %s -> %s, want one swap for the whole file", swaps, got)
	}
	for _, name := range []string{"g0000", "g0999"} {
		st := tt.status(name)
		if len(st.Routes) != 1 || st.Routes[0].Effective != "100%" {
			t.Errorf("%s not in service: %+v", name, st)
		}
	}
	// What an idle gateway costs (issue 25 item 2): at most one goroutine
	// (its listener's), and its share of the heap, logged (the heap moves
	// with the collector's timing: not asserted).
	perGateway := float64(mustAtoi(t, tt.metric("go_goroutines"))-goroutines) / n
	if perGateway > 1.05 {
		t.Errorf("%.2f goroutines per idle gateway, want at most 1", perGateway)
	}
	t.Logf("per idle gateway: %.2f goroutines, %.1f KB of heap in use (race build: %v)", perGateway,
		(mustAtof(t, tt.metric("go_memstats_heap_inuse_bytes"))-heap)/n/1024, raceEnabled)

	// Again: unchanged, no swap. With one bad gateway: refused, nothing
	// stored.
	swaps = tt.metric("turnout_table_swaps_total")
	out, code = tt.cli("gateway", "apply", "-f", file)
	if code != 0 || strings.Count(out, " unchanged (revision 1)\n") != n {
		t.Fatalf("apply again: exit %d\n%.500s", code, out)
	}
	bad := strings.Replace(doc.String(), "name: g0500\n", "name: g0500\nport: 23000\n", 1)
	bad = strings.Replace(bad, "name: g0501\n", "name: g0501\nport: 23000\n", 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code = tt.cli("gateway", "apply", "-f", file); code == 0 || !strings.Contains(out, "port 23000") {
		t.Errorf("apply with a port taken twice: exit %d\n%.500s", code, out)
	}
	if got := tt.metric("turnout_table_swaps_total"); got != swaps {
		t.Errorf("table swaps %s -> %s after applies that changed nothing", swaps, got)
	}
}

func mustAtof(t *testing.T, s string) float64 {
	t.Helper()
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return f
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}
