package main

// End-to-end tests of the DC/OS backends on a bad day (issue 18): a hung
// Marathon member, rolling restarts, an outage. The real turnout binary
// runs its built-in marathon and minuteman plugins as separate processes;
// Marathon itself cannot run here (it needs Mesos and ZooKeeper), so it is
// internal/fakemarathon, serving recorded Marathon shapes and replaying
// the events Marathon sends (the event bodies are those of
// shared/testdata/marathon/master/docs/docs/event-bus.md). The hung member
// is a fake Marathon running as a process of its own (this test binary
// started again, fakemarathon.StartProcess) stopped with SIGSTOP: its
// socket accepts connections, nothing answers. Tasks are local HTTP
// servers on 127.0.0.1, the fake's task host ports pointing at them.

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/testnet"
)

// bdApp is a one-instance app with a health check, its one task serving on
// port (host networking), its port carrying the VIP /web:80.
func bdApp(port int) fakemarathon.AppSpec {
	return fakemarathon.AppSpec{ID: "/web", Instances: 1, Network: fakemarathon.Host, HealthCheck: true,
		Ports:     []fakemarathon.PortSpec{{ServicePort: 10080, Name: "http", Labels: map[string]string{"VIP_0": "/web:80"}}},
		TaskPorts: [][]int{{port}}}
}

// bdGateway is one route taking all traffic.
func bdGateway(port int, target string) string {
	return fmt.Sprintf("name: web\nport: %d/http\nroutes:\n  %q:\n    weight: 100%%\n", port, target)
}

// bdOnly says whether the route has exactly one endpoint, addr, healthy.
func bdOnly(st e2eStatus, route, addr string) bool {
	r := st.route(route)
	return r.endpointHealth() == addr+" healthy" && r.Effective == "100%"
}

// Rolling restarts of a one-instance app with a health check, as Marathon
// does them: the new task starts (TASK_STAGING, TASK_RUNNING) failing its
// check, then passes it (health_status_changed_event, and on 1.5+
// instance_health_changed_event), then the old task is killed
// (TASK_KILLING, TASK_KILLED) and the deployment succeeds, all events back
// to back. Under a steady load through turnout, no request fails, on
// marathon: targets (the tasks themselves) and minuteman: targets (the
// app's VIP, healthy while one task is). marathon-lb: targets are the
// Marathon-LB instances, not the app's tasks: an app's restart does not
// change them.
func TestRollingRestartsFailNoRequest(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	const restarts = 3
	for _, tc := range []struct {
		name    string
		version fakemarathon.Version
		target  string
	}{
		{"marathon/1.5", fakemarathon.V15, "marathon:/web"},
		{"minuteman/1.5", fakemarathon.V15, "minuteman:/web:80"},
		{"marathon/1.4", fakemarathon.V14, "marathon:/web"},
		{"minuteman/1.4", fakemarathon.V14, "minuteman:/web:80"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tasks := make([]*backend, restarts+1)
			for i := range tasks {
				tasks[i] = newBackend(t, fmt.Sprintf("task%d", i))
			}
			fm := fakemarathon.New(t, fakemarathon.Options{Version: tc.version})
			mtDeployHealthy(t, fm, bdApp(tasks[0].port))
			port := testnet.FreePort(t)
			url := fmt.Sprintf("http://127.0.0.1:%d/", port)
			args := []string{"--marathon-url", fm.URL()}
			vip := newBackend(t, "vip")
			minuteman := strings.HasPrefix(tc.target, "minuteman:")
			serving := func(i int) string { return tasks[i].addr }
			if minuteman {
				// dcos-net balances the VIP over the healthy tasks;
				// here the VIP's name is pinned to one local server.
				args = append(args, "--resolve", "web.marathon.l4lb.thisdcos.directory:80="+vip.addr)
				serving = func(int) string { return "web.marathon.l4lb.thisdcos.directory:80" }
			}
			tt := start(t, bdGateway(port, tc.target), args...)
			tt.awaitStatus("web", 20*time.Second, "the route ready on the first task", func(st e2eStatus) bool {
				return bdOnly(st, tc.target, serving(0))
			})
			l := steadyLoad(t, url)
			l.await(t, 200, "before the restarts")
			for i := 1; i <= restarts; i++ {
				fm.Deploy(bdApp(tasks[i].port))
				if !minuteman {
					tt.awaitStatus("web", 10*time.Second, "the new task listed, unhealthy", func(st e2eStatus) bool {
						return strings.Contains(st.route(tc.target).endpointHealth(), tasks[i].addr+" unhealthy")
					})
				}
				l.await(t, 100, "while the new task fails its check")
				healthy := time.Now()
				if err := fm.MarkHealthy("/web"); err != nil {
					t.Fatal(err)
				}
				if !minuteman {
					testnet.Eventually(t, 10*time.Second, "a request to the new task", func() bool { return !mtFirstRequest(tasks[i]).IsZero() })
					t.Logf("restart %d: first request to the new task %v after its health event", i,
						mtFirstRequest(tasks[i]).Sub(healthy).Round(time.Millisecond))
				}
				tt.awaitStatus("web", 10*time.Second, "only the new task left", func(st e2eStatus) bool {
					r := st.route(tc.target)
					return bdOnly(st, tc.target, serving(i)) && r.Endpoints[0].Labels["healthy_tasks"] != "2"
				})
				l.await(t, 200, fmt.Sprintf("after restart %d", i))
			}
			l.finish(t, fmt.Sprintf("%d rolling restarts on %s", restarts, tc.target))
			if n := tasks[0].n.Load() + tasks[1].n.Load() + vip.n.Load(); n == 0 {
				t.Error("no request reached a task")
			}
		})
	}
}

// A hung Marathon member: turnout is given two members and follows the
// first; the first is stopped with SIGSTOP (TCP still accepts, nothing
// answers) and the app is redeployed on the second. With the default
// deadlines (member_check_interval 2s, member_timeout 2s) the change is
// followed within a few seconds, the move is logged, and no request fails
// meanwhile.
func TestMarathonHungMemberFailover(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a, b := newBackend(t, "v1"), newBackend(t, "v2")
	first := fakemarathon.StartProcess(t, fakemarathon.V15)
	second := fakemarathon.New(t, fakemarathon.Options{})
	// The two fakes share no state: each is given the same app.
	first.Deploy(bdApp(a.port))
	first.MarkHealthy("/web")
	mtDeployHealthy(t, second, bdApp(a.port))

	port := testnet.FreePort(t)
	tt := start(t, bdGateway(port, "marathon:/web"), "--marathon-url", first.URL()+","+second.URL())
	tt.awaitStatus("web", 20*time.Second, "the route ready on v1", func(st e2eStatus) bool { return bdOnly(st, "marathon:/web", a.addr) })
	if n := second.Streams(); n != 0 {
		t.Fatalf("%d event streams on the second member before the first hangs", n)
	}
	l := steadyLoad(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	l.await(t, 200, "before the first member hangs")

	first.Freeze()
	frozen := time.Now()
	mtDeployHealthy(t, second, bdApp(b.port))
	testnet.Eventually(t, 20*time.Second, "a request to v2, deployed on the second member", func() bool { return !mtFirstRequest(b).IsZero() })
	t.Logf("first member hung: the change on the second followed (first request to v2) %v after SIGSTOP",
		mtFirstRequest(b).Sub(frozen).Round(time.Millisecond))
	tt.awaitStatus("web", 10*time.Second, "only v2 left", func(st e2eStatus) bool { return bdOnly(st, "marathon:/web", b.addr) })
	l.await(t, 200, "after the failover")
	l.finish(t, "steady load through the failover")
	logs := tt.logs.String()
	for _, want := range []string{"marathon member failed its check; passing it over", "marathon event stream moved to another member"} {
		if !strings.Contains(logs, want) {
			t.Errorf("turnout's log lacks %q", want)
		}
	}
	// The move is counted on /metrics (the port checks' watcher, which
	// follows the same members with the same checks).
	testnet.Eventually(t, 10*time.Second, "the switch counted on /metrics", func() bool {
		m := tt.metrics()
		return bdCounted.MatchString(m) && bdDown.MatchString(m)
	})
}

// bdCounted and bdDown find a switch and a member down counted.
var (
	bdCounted = regexp.MustCompile(`(?m)^turnout_marathon_stream_switches_total\{watcher="ports"\} [1-9]`)
	bdDown    = regexp.MustCompile(`(?m)^turnout_marathon_members_down_total\{watcher="ports"\} [1-9]`)
)

// A 30 s Marathon outage: the event stream's reconnects back off, capped
// at reconnect_max (2s by default, jittered), so once Marathon is back the
// streams reattach within a few seconds, and a change made then is
// followed through its events, with the default resync (5m) far away.
// Before the cap, reconnects came 3, 9, 21 and 45 s after the loss: after
// 30 s down the next attempt was 15 s after Marathon's return, past this
// test's 10 s deadline (the stream's reattaching is what is waited for:
// the polling while it is down found changes 5-9 s late, within any
// generous deadline).
func TestMarathonOutageReconnectIsCapped(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a, b := newBackend(t, "v1"), newBackend(t, "v2")
	fm := fakemarathon.New(t, fakemarathon.Options{})
	mtDeployHealthy(t, fm, bdApp(a.port))
	port := testnet.FreePort(t)
	tt := start(t, bdGateway(port, "marathon:/web"), "--marathon-url", fm.URL())
	tt.awaitStatus("web", 20*time.Second, "the route ready on v1", func(st e2eStatus) bool { return bdOnly(st, "marathon:/web", a.addr) })
	// Two event streams: the marathon plugin's and turnout's port checks'.
	testnet.Eventually(t, 10*time.Second, "two event streams attached", func() bool { return fm.Streams() == 2 })
	l := steadyLoad(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	l.await(t, 200, "before the outage")

	fm.Stop()
	// The outage's length is the scenario: by 30 s an uncapped backoff
	// waits 24 s between attempts.
	<-time.After(30 * time.Second)
	if err := fm.Start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	testnet.Eventually(t, 10*time.Second, "both event streams attached again", func() bool { return fm.Streams() == 2 })
	t.Logf("after a 30s outage: both event streams attached again %v after Marathon's return", time.Since(up).Round(time.Millisecond))
	changed := time.Now()
	mtDeployHealthy(t, fm, bdApp(b.port))
	testnet.Eventually(t, 20*time.Second, "a request to v2", func() bool { return !mtFirstRequest(b).IsZero() })
	t.Logf("after the outage: a change followed (first request to v2) %v after it was made",
		mtFirstRequest(b).Sub(changed).Round(time.Millisecond))
	tt.awaitStatus("web", 10*time.Second, "only v2 left, fresh", func(st e2eStatus) bool {
		return bdOnly(st, "marathon:/web", b.addr) && !st.route("marathon:/web").Stale
	})
	l.finish(t, "steady load through the outage")
}
