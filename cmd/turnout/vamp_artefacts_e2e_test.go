package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/testnet"
)

// TestVampArtefactsEndToEnd serves Vamp artefacts through the real binary
// as Vamp read them (magneticio/vamp GatewayReader.scala and its spec):
//   - route keys without quotes (`[host:port]:`, as Vamp's own
//     gateway7.yml writes them);
//   - a route key naming another gateway (GatewayPath of 1 part): requests
//     take that gateway's routes, its conditions included; a reference to
//     a gateway that is not there holds the route at 0 with a reason in the
//     status, and a loop is refused;
//   - the port written back as given, and condition_strength without a
//     condition accepted with a warning from apply and in the answer.
func TestVampArtefactsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary, edge := testnet.Backend(t, "stable"), testnet.Backend(t, "canary"), testnet.Backend(t, "edge")
	inner, outer := testnet.FreePort(t), testnet.FreePort(t)
	tt := start(t, fmt.Sprintf(`name: sava
port: %d
routes:
  [%s]:
    weight: 100%%
  [%s]:
    weight: 0%%
    condition: user-agent == firefox
---
name: edge
port: %d/http
routes:
  sava:
    weight: 100%%
  [%s]:
    weight: 0%%
    condition_strength: 50%%
  missing:
    weight: 0%%
`, inner, stable, canary, outer, edge))
	get := func(port int, ua string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Backend")
	}
	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
	for i := 0; i < 20; i++ {
		if got := get(outer, "curl/8"); got != "stable" {
			t.Fatalf("through edge to sava: went to %q, want stable", got)
		}
		if got := get(outer, firefox); got != "canary" {
			t.Fatalf("Firefox through edge to sava: went to %q, want canary (sava's condition)", got)
		}
	}

	st := tt.status("edge")
	if r := st.route("missing"); r.Effective != "0%" || r.Held != `no gateway named "missing" is in service` {
		t.Errorf("route to a missing gateway: %+v", r)
	}

	// Written back as given: the port, and the strength that does nothing,
	// with its warning.
	_, _, body := apiCall(t, "GET", "http://"+tt.admin+"/api/v1/gateways/sava", "", "")
	if !strings.Contains(body, fmt.Sprintf(`"port":"%d"`, inner)) {
		t.Errorf("sava's port not as given: %s", body)
	}
	_, _, body = apiCall(t, "GET", "http://"+tt.admin+"/api/v1/gateways/edge", "", "")
	if !strings.Contains(body, `"warnings":["routes.\"[`+edge+`]\".condition_strength: condition_strength has no effect without a condition"]`) {
		t.Errorf("edge's warning missing: %s", body)
	}

	// Creating the missing gateway releases the route; a loop is refused.
	file := t.TempDir() + "/missing.yaml"
	write := func(doc string) {
		if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf("name: missing\nroutes:\n  [%s]: {}\n", edge))
	tt.expectCLI(0, "gateway/missing created", "gateway", "apply", "-f", file)
	tt.awaitStatus("edge", 10*time.Second, "route to the new gateway released", func(s e2eStatus) bool {
		return s.route("missing").Held == ""
	})
	write(fmt.Sprintf("name: missing\nroutes:\n  edge: {}\n  [%s]:\n    condition_strength: 10%%\n", edge))
	tt.expectCLI(1, "routes through gateways come back to it: missing -> edge -> missing", "gateway", "apply", "-f", file)
	var out, errb strings.Builder
	write(fmt.Sprintf("name: other\nroutes:\n  [%s]:\n    condition_strength: 10%%\n", edge))
	if code := runTurnout(t, nil, &out, &errb, "gateway", "apply", "-f", file, "--addr", tt.admin); code != 0 ||
		!strings.Contains(errb.String(), `turnout: warning: gateway other: routes."[`+edge+`]".condition_strength: condition_strength has no effect without a condition`) {
		t.Errorf("apply with a strength and no condition: exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
}

// TestVampInstanceReferencesThroughMarathon routes Vamp's 4-part keys,
// deployment/cluster/service/port (GatewayPath of 4 segments,
// GatewayReader.scala), through the reference scheme, Marathon by
// default: the tasks of app /deployment/cluster/service on its port of
// that name. Unresolved references hold their route at 0 with Marathon's
// reason in the status instead of refusing the gateway. Marathon cannot
// run here: internal/fakemarathon serves its API and event stream.
func TestVampInstanceReferencesThroughMarathon(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a, b := newBackend(t, "web/a"), newBackend(t, "web/b")
	fm := fakemarathon.New(t, fakemarathon.Options{})
	mtDeployHealthy(t, fm, fakemarathon.AppSpec{ID: "/sava/sava/web", Instances: 2, Network: fakemarathon.Host, HealthCheck: true,
		Ports:     []fakemarathon.PortSpec{{ServicePort: 10001, Name: "admin"}, {ServicePort: 10002, Name: "webport"}},
		TaskPorts: [][]int{{testnet.FreePort(t), a.port}, {testnet.FreePort(t), b.port}}})
	port := testnet.FreePort(t)
	tt := start(t, fmt.Sprintf(`name: sava
port: %d
routes:
  sava/sava/web/webport:
    weight: 100%%
  sava/sava/gone/webport:
    weight: 0%%
  sava/sava/web/metrics:
    weight: 0%%
`, port), "--marathon-url", fm.URL())
	st := tt.awaitStatus("sava", 20*time.Second, "the reference resolved to the app's tasks", func(st e2eStatus) bool {
		return st.route("sava/sava/web/webport").Effective == "100%" && len(st.route("sava/sava/web/webport").Endpoints) == 2
	})
	for route, why := range map[string]string{
		"sava/sava/gone/webport": "app /sava/sava/gone not found in Marathon",
		"sava/sava/web/metrics":  "app /sava/sava/web has no port named metrics (its ports: admin, webport)",
	} {
		if r := st.route(route); r.Effective != "0%" || !strings.Contains(r.Held+r.Error, why) {
			t.Errorf("%s: %+v, want held saying %q", route, r, why)
		}
	}
	got := split(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 200, 4, nil)
	if got["web/a"]+got["web/b"] != 200 || got["web/a"] == 0 || got["web/b"] == 0 {
		t.Errorf("requests by task: %v, want all 200 on the port named webport of both tasks", got)
	}
}
