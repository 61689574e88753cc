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
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

// mtTask is a local HTTP backend standing in for one Marathon task:
// it answers with its name in X-Backend, counts requests and remembers
// when the first one came.
type mtTask struct {
	name  string
	addr  string // 127.0.0.1:port
	port  int
	n     atomic.Int64
	first atomic.Int64 // unix nanoseconds of the first request, 0 before
}

func newMTTask(t *testing.T, name string) *mtTask {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &mtTask{name: name, addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.first.CompareAndSwap(0, time.Now().UnixNano())
		b.n.Add(1)
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

func mtPorts(bs ...*mtTask) []int {
	var out []int
	for _, b := range bs {
		out = append(out, b.port)
	}
	return out
}

func mtRequests(bs ...*mtTask) int64 {
	var n int64
	for _, b := range bs {
		n += b.n.Load()
	}
	return n
}

// firstRequest is when the first of bs saw a request (zero if none did).
func mtFirstRequest(bs ...*mtTask) time.Time {
	var first int64
	for _, b := range bs {
		if f := b.first.Load(); f != 0 && (first == 0 || f < first) {
			first = f
		}
	}
	if first == 0 {
		return time.Time{}
	}
	return time.Unix(0, first)
}

// mtGateway is the seed's gateway (name, 50/50) on two plugin targets.
func mtGateway(port int, route1, route2 string) string {
	return fmt.Sprintf("name: simpleservice\nport: %d/http\nroutes:\n  %q:\n    weight: 50%%\n  %q:\n    weight: 50%%\n", port, route1, route2)
}

type mtRoute struct {
	Route     string `json:"route"`
	Weight    string `json:"weight"`
	Effective string `json:"effective_weight"`
	Held      string `json:"held"`
	Ready     *bool  `json:"ready"`
	Stale     bool   `json:"stale"`
	Error     string `json:"error"`
	Endpoints []struct {
		Address string            `json:"address"`
		Healthy bool              `json:"healthy"`
		Labels  map[string]string `json:"labels"`
	} `json:"endpoints"`
}

// addresses are the route's endpoints, "address healthy|unhealthy".
func (r mtRoute) addresses() string {
	var out []string
	for _, e := range r.Endpoints {
		h := "healthy"
		if !e.Healthy {
			h = "unhealthy"
		}
		out = append(out, e.Address+" "+h)
	}
	return strings.Join(out, ", ")
}

// routes is the status API's word on a gateway's routes, by route.
func (tt *turnout) mtRoutes(gw string) map[string]mtRoute {
	tt.t.Helper()
	var st struct {
		Routes []mtRoute `json:"routes"`
	}
	tt.getJSON("/api/v1/gateways/"+gw+"/status", &st)
	out := map[string]mtRoute{}
	for _, r := range st.Routes {
		out[r.Route] = r
	}
	return out
}

// mtAwaitRoutes polls the status API until ok holds for the gateway's routes.
func (tt *turnout) mtAwaitRoutes(within time.Duration, what string, ok func(map[string]mtRoute) bool) map[string]mtRoute {
	tt.t.Helper()
	var last map[string]mtRoute
	testnet.Eventually(tt.t, within, what, func() bool {
		last = tt.mtRoutes("simpleservice")
		return ok(last)
	})
	return last
}

// load is a steady stream of requests to a gateway from a few keep-alive
// clients, paced so the machine keeps time for turnout itself. It counts
// the requests that succeeded and those that failed.
type mtLoad struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	stop       chan struct{}
	wg         sync.WaitGroup
	stopped    bool
}

func mtSteadyLoad(t *testing.T, url string) *mtLoad {
	l := &mtLoad{stop: make(chan struct{})}
	const workers, every = 4, 4 * time.Millisecond // ~1000 requests a second
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 5 * time.Second}
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-l.stop:
					return
				case <-tick.C:
				}
				resp, err := c.Get(url)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %s", resp.Status)
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.errs) < 5 {
						l.errs = append(l.errs, err.Error())
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	t.Cleanup(l.end)
	return l
}

func (l *mtLoad) end() {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	l.mu.Unlock()
	close(l.stop)
	l.wg.Wait()
}

// await waits until n more requests succeeded: traffic went on for a while.
func (l *mtLoad) await(t *testing.T, n int64, what string) {
	t.Helper()
	target := l.ok.Load() + n
	testnet.Eventually(t, 15*time.Second, fmt.Sprintf("%d more requests (%s)", n, what), func() bool { return l.ok.Load() >= target })
}

// finish stops the load and fails the test if any request failed.
func (l *mtLoad) finish(t *testing.T, what string) {
	t.Helper()
	l.end()
	t.Logf("%s: %d requests, %d failed", what, l.ok.Load(), l.failed.Load())
	if l.failed.Load() != 0 || l.ok.Load() == 0 {
		t.Fatalf("%s: %d of %d requests failed: %v", what, l.failed.Load(), l.failed.Load()+l.ok.Load(), l.errs)
	}
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

	names := map[string]string{
		"minuteman:" + mtV100 + ":3000": "simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000",
		"minuteman:" + mtV110 + ":3000": "simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000",
	}
	port := testnet.FreePort(t)
	tt := start(t, mtGateway(port, "minuteman:"+mtV100+":3000", "minuteman:"+mtV110+":3000"),
		append([]string{"--marathon-url", fm.URL()}, seedPins(t)...)...)

	routes := tt.mtAwaitRoutes(20*time.Second, "both minuteman routes ready at 50%", func(rs map[string]mtRoute) bool {
		for route := range names {
			if r := rs[route]; r.Effective != "50%" || len(r.Endpoints) != 1 {
				return false
			}
		}
		return true
	})
	for route, name := range names {
		r := routes[route]
		if got := r.addresses(); got != name+" healthy" || r.Held != "" || r.Ready == nil || !*r.Ready || r.Stale {
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
	a1, b1 := newMTTask(t, "1.0.0/a"), newMTTask(t, "1.0.0/b")
	a2, b2 := newMTTask(t, "1.1.0/a"), newMTTask(t, "1.1.0/b")
	fm := fakemarathon.New(t, fakemarathon.Options{})
	mtDeployHealthy(t, fm, mtSeedApp(t, mtV100, mtPorts(a1, b1)...))
	mtDeployHealthy(t, fm, mtSeedApp(t, mtV110, mtPorts(a2, b2)...))

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
	routes := tt.mtAwaitRoutes(20*time.Second, "both marathon routes ready at 50%", func(rs map[string]mtRoute) bool {
		for route := range want {
			if r := rs[route]; r.Effective != "50%" || len(r.Endpoints) != 2 {
				return false
			}
		}
		return true
	})
	for route, eps := range want {
		if got := routes[route].addresses(); got != eps {
			t.Errorf("%s: endpoints %q, want the tasks' %q", route, got, eps)
		}
		for _, e := range routes[route].Endpoints {
			if !strings.HasPrefix(e.Labels["task"], strings.TrimPrefix(strings.TrimPrefix(route, "marathon:"), "/")+".") || e.Labels["agent"] != "127.0.0.1" {
				t.Errorf("%s: endpoint labels %v", route, e.Labels)
			}
		}
	}

	const n = 2000
	got := split(t, fmt.Sprintf("http://127.0.0.1:%d/", port), n, 4, nil)
	within(t, "1.0.0's tasks", got["1.0.0/a"]+got["1.0.0/b"], n, 50, 1)
	within(t, "1.1.0's tasks", got["1.1.0/a"]+got["1.1.0/b"], n, 50, 1)
	for _, b := range []*mtTask{a1, b1, a2, b2} {
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
	a1, b1 := newMTTask(t, "1.0.0/a"), newMTTask(t, "1.0.0/b")
	a2, b2 := newMTTask(t, "1.1.0/a"), newMTTask(t, "1.1.0/b")
	fm := fakemarathon.New(t, fakemarathon.Options{})
	mtDeployHealthy(t, fm, mtSeedApp(t, mtV100, mtPorts(a1, b1)...))
	r1, r2 := "marathon:"+mtV100, "marathon:"+mtV110
	port := testnet.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	tt := start(t, mtGateway(port, r1, r2), "--marathon-url", fm.URL())

	tt.mtAwaitRoutes(20*time.Second, "1.0.0 ready, 1.1.0 held as it does not exist yet", func(rs map[string]mtRoute) bool {
		return rs[r1].Effective == "50%" && len(rs[r1].Endpoints) == 2 &&
			rs[r2].Held == "not ready: app "+mtV110+" not found in Marathon" && rs[r2].Effective == "0%"
	})
	l := mtSteadyLoad(t, url)
	l.await(t, 200, "before 1.1.0 deploys")

	// 1.1.0 deploys; its tasks run but fail their health checks.
	fm.Deploy(mtSeedApp(t, mtV110, mtPorts(a2, b2)...))
	routes := tt.mtAwaitRoutes(10*time.Second, "1.1.0's unhealthy tasks listed and the route held", func(rs map[string]mtRoute) bool {
		return len(rs[r2].Endpoints) == 2 && rs[r2].Held != "" && !strings.Contains(rs[r2].Held, "not found")
	})
	held := routes[r2]
	t.Logf("1.1.0 while unhealthy: held %q, effective %s, endpoints %s", held.Held, held.Effective, held.addresses())
	if held.Held != "not ready: deployment in flight; 0 of 2 tasks healthy" || held.Effective != "0%" || held.Weight != "50%" ||
		held.Ready == nil || *held.Ready || strings.Contains(held.addresses(), " healthy") {
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

	routes = tt.mtRoutes("simpleservice")
	if r := routes[r2]; r.Held != "" || r.Effective != "50%" || r.Ready == nil || !*r.Ready {
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
	a1, b1 := newMTTask(t, "1.0.0/a"), newMTTask(t, "1.0.0/b")
	a2, b2 := newMTTask(t, "1.1.0/a"), newMTTask(t, "1.1.0/b")
	c2, d2 := newMTTask(t, "1.1.0/c"), newMTTask(t, "1.1.0/d")
	fm := fakemarathon.New(t, fakemarathon.Options{})
	mtDeployHealthy(t, fm, mtSeedApp(t, mtV100, mtPorts(a1, b1)...))
	mtDeployHealthy(t, fm, mtSeedApp(t, mtV110, mtPorts(a2, b2)...))
	r1, r2 := "marathon:"+mtV100, "marathon:"+mtV110
	port := testnet.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	tt := start(t, mtGateway(port, r1, r2), "--marathon-url", fm.URL(),
		"--plugin-config", `marathon={"urls": ["`+fm.URL()+`"], "resync": "1s"}`)
	tt.mtAwaitRoutes(20*time.Second, "both routes ready at 50%", func(rs map[string]mtRoute) bool {
		return rs[r1].Effective == "50%" && len(rs[r1].Endpoints) == 2 && rs[r2].Effective == "50%" && len(rs[r2].Endpoints) == 2
	})
	l := mtSteadyLoad(t, url)
	l.await(t, 200, "before the outage")

	fm.Stop()
	down := time.Now()
	routes := tt.mtAwaitRoutes(10*time.Second, "both routes stale", func(rs map[string]mtRoute) bool {
		return rs[r1].Stale && rs[r2].Stale
	})
	t.Logf("routes stale %v after Marathon stopped: %q", time.Since(down).Round(time.Millisecond), routes[r2].Error)
	for _, r := range []string{r1, r2} {
		if rs := routes[r]; rs.Error == "" || rs.Held != "" || rs.Effective != "50%" || len(rs.Endpoints) != 2 {
			t.Errorf("%s during the outage: %+v", r, rs)
		}
	}
	m := tt.metrics()
	for _, want := range []string{
		`turnout_target_stale{target="` + r1 + `"} 1`,
		`turnout_target_stale{target="` + r2 + `"} 1`,
		`turnout_plugin_up{plugin="backend/marathon"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics during the outage lack %s:\n%s", want, mtGrepLines(m, "turnout_target_stale", "turnout_plugin_up"))
		}
	}
	// Traffic goes on to the last endpoints, every task of both versions.
	before := map[*mtTask]int64{}
	for _, b := range []*mtTask{a1, b1, a2, b2} {
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
	routes = tt.mtAwaitRoutes(5*time.Second, "the routes fresh again", func(rs map[string]mtRoute) bool {
		return !rs[r1].Stale && !rs[r2].Stale
	})
	l.finish(t, "steady load through the outage")
	if got, want := routes[r2].addresses(), mtSortedPair(c2.addr, d2.addr); got != want {
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
		resp, err := http.Get("http://" + tt.admin + "/api/v1/gateways")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Status + " " + string(b)
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
		out, err := exec.Command(binary, "gateway", "apply", "-f", file, "--addr", tt.admin).CombinedOutput()
		t.Logf("%s: exit %d: %s", tc.what, exitCodeOf(err), strings.TrimSpace(string(out)))
		if code := exitCodeOf(err); code != 1 || !strings.Contains(string(out), owner) {
			t.Errorf("%s: exit %d, output %q; want exit 1 and %q", tc.what, code, out, owner)
		}
	}
	// The API's answer itself is a 409.
	req, _ := http.NewRequest("PUT", "http://"+tt.admin+"/api/v1/gateways/stats", strings.NewReader(gw("stats", 9090)))
	req.Header.Set("Content-Type", "application/x-yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), owner) {
		t.Errorf("PUT a gateway on 9090: %s %s, want 409 naming Marathon-LB", resp.Status, body)
	}

	if after := state(); after != before {
		t.Errorf("the stored gateways changed:\nbefore %s\nafter  %s", before, after)
	}
	if got := get(t, http.DefaultClient, url); got != "a" {
		t.Errorf("after the refusals the gateway answers %q", got)
	}
}
