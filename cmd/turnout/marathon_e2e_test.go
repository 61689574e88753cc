package main

// End-to-end tests of the DC/OS backends (issue 5): the real turnout
// binary, with its built-in minuteman and marathon plugins running as
// separate processes, in front of real local backends.
//
// Marathon itself cannot run here (it needs Mesos and ZooKeeper), so each
// test starts internal/fakemarathon instead: a fake Marathon that serves
// recorded Marathon responses and speaks its event stream as real
// Server-Sent Events, and replays what Marathon would answer and emit when
// the test deploys a version, marks its tasks healthy, or stops and
// restarts Marathon. Task hosts are 127.0.0.1 and a deploy's host ports are
// the ports of local backends standing in for the tasks
// (AppSpec.TaskPorts), so the marathon: routes carry real traffic; the
// Minuteman VIP names are pinned to local backends with --resolve.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/testnet"
)

const (
	mtV100 = "/simple-service-1.0.0"
	mtV110 = "/simple-service-1.1.0"
)

// mtSeedApp is a version of the seed's simple-service as a fake Marathon
// deploys it: id, instances, labels, the port's name and VIP label taken
// from marathon-json/ (the files the README's DC/OS walkthrough posts),
// host networking as there, and its health check. The tasks are on
// taskPorts (one port each), when given.
func mtSeedApp(t *testing.T, id string, taskPorts ...int) fakemarathon.AppSpec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "marathon-json", strings.TrimPrefix(id, "/")+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		ID        string            `json:"id"`
		Instances int               `json:"instances"`
		Labels    map[string]string `json:"labels"`
		PortDefs  []struct {
			Port   int               `json:"port"`
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"portDefinitions"`
		HealthChecks []json.RawMessage `json:"healthChecks"`
	}
	if err := json.Unmarshal(b, &app); err != nil {
		t.Fatal(err)
	}
	if app.ID != id || len(app.PortDefs) != 1 || len(app.HealthChecks) != 1 {
		t.Fatalf("marathon-json/%s.json is not the seed's app any more: %s", id, b)
	}
	spec := fakemarathon.AppSpec{ID: app.ID, Instances: app.Instances, Labels: app.Labels, Network: fakemarathon.Host,
		HealthCheck: true, Ports: []fakemarathon.PortSpec{{ServicePort: app.PortDefs[0].Port, Name: app.PortDefs[0].Name, Labels: app.PortDefs[0].Labels}}}
	if len(taskPorts) > 0 {
		if len(taskPorts) != spec.Instances {
			t.Fatalf("%s has %d instances, %d task ports given", id, spec.Instances, len(taskPorts))
		}
		for _, p := range taskPorts {
			spec.TaskPorts = append(spec.TaskPorts, []int{p})
		}
	}
	return spec
}

// mtPorts are the backends' ports, the host ports of their tasks.
func mtPorts(bs ...*backend) []int {
	var out []int
	for _, b := range bs {
		out = append(out, b.port)
	}
	return out
}

func mtRequests(bs ...*backend) int64 {
	var n int64
	for _, b := range bs {
		n += b.n.Load()
	}
	return n
}

// mtFirstRequest is when the first of bs saw a request (zero if none did).
func mtFirstRequest(bs ...*backend) time.Time {
	var first time.Time
	for _, b := range bs {
		if f := b.firstSeen(); !f.IsZero() && (first.IsZero() || f.Before(first)) {
			first = f
		}
	}
	return first
}

// mtGateway is the seed's gateway (name, 50/50) on two plugin targets.
func mtGateway(port int, route1, route2 string) string {
	return fmt.Sprintf("name: simpleservice\nport: %d/http\nroutes:\n  %q:\n    weight: 50%%\n  %q:\n    weight: 50%%\n", port, route1, route2)
}

// mtAllAt says whether each of routes is at the effective weight with n
// endpoints.
func mtAllAt(st e2eStatus, effective string, n int, routes ...string) bool {
	for _, route := range routes {
		if r := st.route(route); r.Effective != effective || len(r.Endpoints) != n {
			return false
		}
	}
	return true
}

// mtTwoVersionsOnTasks is a fake Marathon running the seed's two versions
// healthy, two tasks each, every task a local backend ("1.0.0/a", ...).
func mtTwoVersionsOnTasks(t *testing.T) (fm *fakemarathon.Server, a1, b1, a2, b2 *backend) {
	t.Helper()
	a1, b1 = newBackend(t, "1.0.0/a"), newBackend(t, "1.0.0/b")
	a2, b2 = newBackend(t, "1.1.0/a"), newBackend(t, "1.1.0/b")
	fm = fakemarathon.New(t, fakemarathon.Options{})
	mtDeployHealthy(t, fm, mtSeedApp(t, mtV100, mtPorts(a1, b1)...))
	mtDeployHealthy(t, fm, mtSeedApp(t, mtV110, mtPorts(a2, b2)...))
	return fm, a1, b1, a2, b2
}

// mtDeployHealthy deploys and marks the tasks healthy, as a finished
// Marathon deployment leaves them.
func mtDeployHealthy(t *testing.T, fm *fakemarathon.Server, spec fakemarathon.AppSpec) {
	t.Helper()
	fm.Deploy(spec)
	if err := fm.MarkHealthy(spec.ID); err != nil {
		t.Fatal(err)
	}
}

// The seed's scenario through Minuteman: the two versions carry their VIP
// labels in Marathon, the gateway names them as minuteman:/app:port, the
// minuteman plugin resolves them to the exact DNS names dcos-net gives
// them, and traffic splits 50/50 between what those names resolve to.
func TestSeedScenarioMinuteman(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	fm := fakemarathon.New(t, fakemarathon.Options{})
	mtDeployHealthy(t, fm, mtSeedApp(t, mtV100))
	mtDeployHealthy(t, fm, mtSeedApp(t, mtV110))

	m1, m2 := "minuteman:"+mtV100+":3000", "minuteman:"+mtV110+":3000"
	names := map[string]string{
		m1: "simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000",
		m2: "simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000",
	}
	port := testnet.FreePort(t)
	tt := start(t, mtGateway(port, m1, m2),
		append([]string{"--marathon-url", fm.URL()}, seedPins(t)...)...)

	routes := tt.awaitStatus("simpleservice", 20*time.Second, "both minuteman routes ready at 50%", func(st e2eStatus) bool {
		return mtAllAt(st, "50%", 1, m1, m2)
	})
	for route, name := range names {
		r := routes.route(route)
		if got := r.endpointHealth(); got != name+" healthy" || r.Held != "" || r.Ready == nil || !*r.Ready || r.Stale {
			t.Errorf("%s: endpoints %q held %q ready %v stale %v, want %s healthy", route, got, r.Held, r.Ready, r.Stale, name)
		}
		app := strings.TrimSuffix(strings.TrimPrefix(route, "minuteman:"), ":3000")
		if l := r.Endpoints[0].Labels; l["vip"] != app+":3000" || l["app"] != app || l["healthy_tasks"] != "2" {
			t.Errorf("%s: endpoint labels %v", route, l)
		}
	}

	const n = 2000
	got := split(t, fmt.Sprintf("http://127.0.0.1:%d/", port), n, 4, nil)
	within(t, "1.0.0 through its Minuteman name", got["1.0.0"], n, 50, 1)
	within(t, "1.1.0 through its Minuteman name", got["1.1.0"], n, 50, 1)
}

// marathon: routes go to the tasks themselves: two tasks per version, each
// a local backend on its host port; the versions split 50/50 and within a
// version both tasks get their half.
func TestMarathonTasksGetRealTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	fm, a1, b1, a2, b2 := mtTwoVersionsOnTasks(t)

	want := map[string]string{
		"marathon:" + mtV100: a1.addr + " healthy, " + b1.addr + " healthy",
		"marathon:" + mtV110: a2.addr + " healthy, " + b2.addr + " healthy",
	}
	if a1.addr > b1.addr {
		want["marathon:"+mtV100] = b1.addr + " healthy, " + a1.addr + " healthy"
	}
	if a2.addr > b2.addr {
		want["marathon:"+mtV110] = b2.addr + " healthy, " + a2.addr + " healthy"
	}
	port := testnet.FreePort(t)
	tt := start(t, mtGateway(port, "marathon:"+mtV100, "marathon:"+mtV110), "--marathon-url", fm.URL())
	routes := tt.awaitStatus("simpleservice", 20*time.Second, "both marathon routes ready at 50%", func(st e2eStatus) bool {
		return mtAllAt(st, "50%", 2, "marathon:"+mtV100, "marathon:"+mtV110)
	})
	for route, eps := range want {
		if got := routes.route(route).endpointHealth(); got != eps {
			t.Errorf("%s: endpoints %q, want the tasks' %q", route, got, eps)
		}
		for _, e := range routes.route(route).Endpoints {
			if !strings.HasPrefix(e.Labels["task"], strings.TrimPrefix(strings.TrimPrefix(route, "marathon:"), "/")+".") || e.Labels["agent"] != "127.0.0.1" {
				t.Errorf("%s: endpoint labels %v", route, e.Labels)
			}
		}
	}

	const n = 2000
	got := split(t, fmt.Sprintf("http://127.0.0.1:%d/", port), n, 4, nil)
	within(t, "1.0.0's tasks", got["1.0.0/a"]+got["1.0.0/b"], n, 50, 1)
	within(t, "1.1.0's tasks", got["1.1.0/a"]+got["1.1.0/b"], n, 50, 1)
	for _, b := range []*backend{a1, b1, a2, b2} {
		within(t, "task "+b.name, got[b.name], n, 25, 1)
	}
}

// require_ready: a new version whose tasks are not healthy yet gets no
// request at all under a steady load, and the status API says why; once
// Marathon reports its tasks healthy it gets its 50% within one second of
// the health event.
func TestReadinessHoldsANewVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a1, b1 := newBackend(t, "1.0.0/a"), newBackend(t, "1.0.0/b")
	a2, b2 := newBackend(t, "1.1.0/a"), newBackend(t, "1.1.0/b")
	fm := fakemarathon.New(t, fakemarathon.Options{})
	mtDeployHealthy(t, fm, mtSeedApp(t, mtV100, mtPorts(a1, b1)...))
	r1, r2 := "marathon:"+mtV100, "marathon:"+mtV110
	port := testnet.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	tt := start(t, mtGateway(port, r1, r2), "--marathon-url", fm.URL())

	tt.awaitStatus("simpleservice", 20*time.Second, "1.0.0 ready, 1.1.0 held as it does not exist yet", func(st e2eStatus) bool {
		return mtAllAt(st, "50%", 2, r1) &&
			st.route(r2).Held == "not ready: app "+mtV110+" not found in Marathon" && st.route(r2).Effective == "0%"
	})
	l := steadyLoad(t, url)
	l.await(t, 200, "before 1.1.0 deploys")

	// 1.1.0 deploys; its tasks run but fail their health checks.
	fm.Deploy(mtSeedApp(t, mtV110, mtPorts(a2, b2)...))
	held := tt.awaitStatus("simpleservice", 10*time.Second, "1.1.0's unhealthy tasks listed and the route held", func(st e2eStatus) bool {
		r := st.route(r2)
		return len(r.Endpoints) == 2 && r.Held != "" && !strings.Contains(r.Held, "not found")
	}).route(r2)
	t.Logf("1.1.0 while unhealthy: held %q, effective %s, endpoints %s", held.Held, held.Effective, held.endpointHealth())
	if held.Held != "not ready: deployment in flight; 0 of 2 tasks healthy" || held.Effective != "0%" || held.Weight != "50%" ||
		held.Ready == nil || *held.Ready || strings.Contains(held.endpointHealth(), " healthy") {
		t.Errorf("1.1.0 while unhealthy: %+v", held)
	}
	if m := tt.metrics(); !strings.Contains(m, `turnout_route_held{gateway="simpleservice",route="`+r2+`"} 1`) ||
		!strings.Contains(m, `turnout_route_held{gateway="simpleservice",route="`+r1+`"} 0`) {
		t.Errorf("turnout_route_held does not say 1.1.0 is held and 1.0.0 is not:\n%s", mtGrepLines(m, "turnout_route_held"))
	}
	l.await(t, 1000, "1.1.0 unhealthy")
	if n := mtRequests(a2, b2); n != 0 {
		t.Fatalf("1.1.0's unhealthy tasks got %d requests", n)
	}
	t.Logf("1.1.0 unhealthy: 0 requests to its tasks while %d reached 1.0.0's", mtRequests(a1, b1))

	// The health checks pass: Marathon sends health_status_changed_event.
	healthy := time.Now()
	if err := fm.MarkHealthy(mtV110); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, "a request to 1.1.0", func() bool { return !mtFirstRequest(a2, b2).IsZero() })
	latency := mtFirstRequest(a2, b2).Sub(healthy)
	t.Logf("readiness latency: first request to 1.1.0 %v after the health event", latency.Round(time.Millisecond))
	if latency > time.Second {
		t.Errorf("1.1.0 got its first request %v after its tasks became healthy, want within 1s", latency)
	}
	l.finish(t, "steady load through the rollout")

	if r := tt.status("simpleservice").route(r2); r.Held != "" || r.Effective != "50%" || r.Ready == nil || !*r.Ready {
		t.Errorf("1.1.0 after the health event: %+v", r)
	}
	const n = 2000
	got := split(t, url, n, 4, nil)
	within(t, "1.0.0 after 1.1.0 is healthy", got["1.0.0/a"]+got["1.0.0/b"], n, 50, 1)
	within(t, "1.1.0 after it is healthy", got["1.1.0/a"]+got["1.1.0/b"], n, 50, 1)
}

// A Marathon outage: routes keep their last endpoints, marked stale, and
// no request fails; what changed in Marathon meanwhile (a new deployment
// of 1.1.0 on other tasks) is picked up by the resync once it is back.
func TestMarathonOutageKeepsRouting(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a1, b1 := newBackend(t, "1.0.0/a"), newBackend(t, "1.0.0/b")
	a2, b2 := newBackend(t, "1.1.0/a"), newBackend(t, "1.1.0/b")
	c2, d2 := newBackend(t, "1.1.0/c"), newBackend(t, "1.1.0/d")
	fm := fakemarathon.New(t, fakemarathon.Options{})
	mtDeployHealthy(t, fm, mtSeedApp(t, mtV100, mtPorts(a1, b1)...))
	mtDeployHealthy(t, fm, mtSeedApp(t, mtV110, mtPorts(a2, b2)...))
	r1, r2 := "marathon:"+mtV100, "marathon:"+mtV110
	port := testnet.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	tt := start(t, mtGateway(port, r1, r2), "--marathon-url", fm.URL(),
		"--plugin-config", `marathon={"urls": ["`+fm.URL()+`"], "resync": "1s"}`)
	tt.awaitStatus("simpleservice", 20*time.Second, "both routes ready at 50%", func(st e2eStatus) bool {
		return mtAllAt(st, "50%", 2, r1, r2)
	})
	l := steadyLoad(t, url)
	l.await(t, 200, "before the outage")

	fm.Stop()
	down := time.Now()
	routes := tt.awaitStatus("simpleservice", 10*time.Second, "both routes stale", func(st e2eStatus) bool {
		return st.route(r1).Stale && st.route(r2).Stale
	})
	t.Logf("routes stale %v after Marathon stopped: %q", time.Since(down).Round(time.Millisecond), routes.route(r2).Error)
	for _, r := range []string{r1, r2} {
		if rs := routes.route(r); rs.Error == "" || rs.Held != "" || rs.Effective != "50%" || len(rs.Endpoints) != 2 {
			t.Errorf("%s during the outage: %+v", r, rs)
		}
	}
	m := tt.metrics()
	for _, want := range []string{
		`turnout_target_stale{target="` + r1 + `"} 1`,
		`turnout_target_stale{target="` + r2 + `"} 1`,
		`turnout_plugin_up{plugin="backend/dcos"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics during the outage lack %s:\n%s", want, mtGrepLines(m, "turnout_target_stale", "turnout_plugin_up"))
		}
	}
	// Traffic goes on to the last endpoints, every task of both versions.
	before := map[*backend]int64{}
	for _, b := range []*backend{a1, b1, a2, b2} {
		before[b] = b.n.Load()
	}
	l.await(t, 500, "during the outage")
	for b, n := range before {
		if b.n.Load() == n {
			t.Errorf("task %s got no request during the outage", b.name)
		}
	}

	// Meanwhile 1.1.0 is deployed again, on other tasks, and the old ones
	// are killed; nobody listens to the events.
	mtDeployHealthy(t, fm, mtSeedApp(t, mtV110, mtPorts(c2, d2)...))
	l.await(t, 300, "after the deploy in the outage")
	if n := mtRequests(c2, d2); n != 0 {
		t.Fatalf("the new tasks got %d requests while Marathon was down", n)
	}
	if err := fm.Start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	testnet.Eventually(t, 10*time.Second, "a request to 1.1.0's new tasks", func() bool { return !mtFirstRequest(c2, d2).IsZero() })
	t.Logf("the deploy made during the outage was picked up %v after Marathon came back", mtFirstRequest(c2, d2).Sub(up).Round(time.Millisecond))
	routes = tt.awaitStatus("simpleservice", 5*time.Second, "the routes fresh again", func(st e2eStatus) bool {
		return !st.route(r1).Stale && !st.route(r2).Stale
	})
	l.finish(t, "steady load through the outage")
	if got, want := routes.route(r2).endpointHealth(), mtSortedPair(c2.addr, d2.addr); got != want {
		t.Errorf("1.1.0 after the outage: endpoints %q, want the new tasks %q", got, want)
	}
	if m := tt.metrics(); !strings.Contains(m, `turnout_target_stale{target="`+r2+`"} 0`) {
		t.Errorf("turnout_target_stale after the outage:\n%s", mtGrepLines(m, "turnout_target_stale"))
	}
	old := mtRequests(a2, b2)
	const n = 2000
	got := split(t, url, n, 4, nil)
	within(t, "1.0.0 after the outage", got["1.0.0/a"]+got["1.0.0/b"], n, 50, 1)
	within(t, "1.1.0's new tasks after the outage", got["1.1.0/c"]+got["1.1.0/d"], n, 50, 1)
	if n := mtRequests(a2, b2) - old; n != 0 {
		t.Errorf("1.1.0's killed tasks still got %d requests", n)
	}
}

func mtSortedPair(x, y string) string {
	if x > y {
		x, y = y, x
	}
	return x + " healthy, " + y + " healthy"
}

// mtGrepLines are the lines of s that start with one of the prefixes.
func mtGrepLines(s string, prefixes ...string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// Marathon-LB's ports are not Turnout's to take: with --marathon-url a
// gateway on 9090 (Marathon-LB's stats port) is refused with a 409 naming
// Marathon-LB, `turnout gateway apply` exits 1 with that message, and what
// was serving goes on unchanged.
func TestGatewayOnMarathonLBPortIsRefused(t *testing.T) {
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
	tt := start(t, gw("simpleservice", port), "--marathon-url", fm.URL())
	// The port watcher has read Marathon once its event stream is attached
	// (it attaches after the first full read).
	testnet.Eventually(t, 10*time.Second, "turnout's port watcher to read Marathon", func() bool { return fm.Streams() == 1 })
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if got := get(t, http.DefaultClient, url); got != "a" {
		t.Fatalf("before: %q", got)
	}
	state := func() string {
		code, _, body := apiCall(t, "GET", "http://"+tt.admin+"/api/v1/gateways", "", "")
		return fmt.Sprint(code, " ", body)
	}
	before := state()

	const owner = "port 9090 is taken by Marathon-LB /marathon-lb (stats and admin port)"
	for _, tc := range []struct{ what, doc string }{
		{"a new gateway on 9090", gw("stats", 9090)},
		{"the serving gateway moved to 9090", gw("simpleservice", 9090)},
	} {
		file := filepath.Join(t.TempDir(), "gateway.yaml")
		if err := os.WriteFile(file, []byte(tc.doc), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := tt.cli("gateway", "apply", "-f", file)
		t.Logf("%s: exit %d: %s", tc.what, code, strings.TrimSpace(out))
		if code != 1 || !strings.Contains(out, owner) {
			t.Errorf("%s: exit %d, output %q; want exit 1 and %q", tc.what, code, out, owner)
		}
	}
	// The API's answer itself is a 409.
	if code, _, body := apiCall(t, "PUT", "http://"+tt.admin+"/api/v1/gateways/stats", "application/x-yaml", gw("stats", 9090)); code != http.StatusConflict || !strings.Contains(body, owner) {
		t.Errorf("PUT a gateway on 9090: %d %s, want 409 naming Marathon-LB", code, body)
	}

	if after := state(); after != before {
		t.Errorf("the stored gateways changed:\nbefore %s\nafter  %s", before, after)
	}
	if got := get(t, http.DefaultClient, url); got != "a" {
		t.Errorf("after the refusals the gateway answers %q", got)
	}
}

// Vamp's route selectors through the real binary: two routes named by
// the operator select the seed's two versions by their Marathon labels
// (marathon-json/'s "service" and "version"); the marathon plugin
// resolves them to the tasks, each a local backend, and traffic splits
// 50/50 between the versions. A selector that does not parse is refused
// by the API with Vamp's message and where, and nothing changes.
func TestSelectorRoutesGetRealTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	fm, _, _, _, _ := mtTwoVersionsOnTasks(t)
	port := testnet.FreePort(t)
	gw := fmt.Sprintf(`name: simpleservice
port: %d/http
routes:
  stable:
    selector: label(version)(1\.0\.0)
    weight: 50%%
  canary:
    selector: label(service)(simple-service) and not label(version)(1\.0\.0) and port_index(0)
    weight: 50%%
`, port)
	tt := start(t, gw, "--marathon-url", fm.URL())
	routes := tt.awaitStatus("simpleservice", 20*time.Second, "both selector routes ready at 50%", func(st e2eStatus) bool {
		return st.route("stable").Effective == "50%" && len(st.route("stable").Endpoints) == 2 &&
			st.route("canary").Effective == "50%" && len(st.route("canary").Endpoints) == 2
	})
	for route, app := range map[string]string{"stable": mtV100, "canary": mtV110} {
		for _, e := range routes.route(route).Endpoints {
			if e.Labels["app"] != app || !e.Healthy {
				t.Errorf("%s endpoint %s labels %v healthy %v, want a healthy task of %s", route, e.Address, e.Labels, e.Healthy, app)
			}
		}
	}

	const n = 2000
	got := split(t, fmt.Sprintf("http://127.0.0.1:%d/", port), n, 4, nil)
	within(t, "1.0.0's tasks", got["1.0.0/a"]+got["1.0.0/b"], n, 50, 1)
	within(t, "1.1.0's tasks", got["1.1.0/a"]+got["1.1.0/b"], n, 50, 1)

	bad := strings.Replace(gw, "label(version)(1\\.0\\.0)\n", "version(1.0.0)\n", 1)
	code, _, body := apiCall(t, "PUT", "http://"+tt.admin+"/api/v1/gateways/simpleservice", "application/x-yaml", bad)
	var answer struct{ Message string }
	_ = json.Unmarshal([]byte(body), &answer)
	if want := `line 5:15: gateway "simpleservice": routes."stable".selector: invalid selector 'version(1.0.0)': position 1: unknown selector "version"`; code != 400 || !strings.HasPrefix(answer.Message, want) {
		t.Errorf("PUT with a bad selector: %d %s, want 400 with %q", code, body, want)
	}
	if st := tt.status("simpleservice"); len(st.route("stable").Endpoints) != 2 {
		t.Errorf("the refused PUT changed the gateway: %+v", st.route("stable"))
	}
}
