package main

// Requests to Marathon (issue 18 item 3): a Marathon of 500 apps, three
// of them used by a gateway through the marathon:, minuteman: and
// marathon-lb: schemes, and the real turnout with its built-in DC/OS
// plugin and its port checks. The fake Marathon counts every request by
// path: at start, at rest, and per event while apps are deployed. The
// figures are in docs/operations.md ("Requests to Marathon").

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/testnet"
)

// rqCounts are requests by kind: "apps" (a full read, GET /v2/apps),
// "app" (GET /v2/apps/{id}), and the other paths as they are.
type rqCounts map[string]int

func rqCount(fm *fakemarathon.Server) rqCounts {
	c := rqCounts{}
	for path, n := range fm.RequestCounts() {
		switch {
		case path == "/v2/apps" || path == "/v2/apps/":
			c["apps"] += n
		case strings.HasPrefix(path, "/v2/apps/"):
			c["app"] += n
		default:
			c[path] += n
		}
	}
	return c
}

// minus is c - before, by kind.
func (c rqCounts) minus(before rqCounts) rqCounts {
	d := rqCounts{}
	for k, n := range c {
		if n-before[k] != 0 {
			d[k] = n - before[k]
		}
	}
	return d
}

func (c rqCounts) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// reads are the requests but the member checks.
func (c rqCounts) reads() int { return c.total() - c["/v2/leader"] }

func (c rqCounts) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}

// rqSettle waits until Marathon is read no more: two rounds of member
// checks of every watcher (GET /v2/leader, every 2 s each) without any
// other request. It returns the counts then.
func rqSettle(t *testing.T, fm *fakemarathon.Server, watchers int) rqCounts {
	t.Helper()
	var settled rqCounts
	testnet.Eventually(t, 90*time.Second, "Marathon no longer read", func() bool {
		a := rqCount(fm)
		testnet.Eventually(t, 30*time.Second, "two rounds of member checks", func() bool {
			return rqCount(fm)["/v2/leader"] >= a["/v2/leader"]+2*watchers
		})
		settled = rqCount(fm)
		return settled.minus(a).reads() == 0
	})
	return settled
}

func TestMarathonRequestsWith500Apps(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	fm := fakemarathon.New(t, fakemarathon.Options{})
	const apps = 500
	fm.Deploy(fakemarathon.MarathonLBSpec("/marathon-lb", "external", true))
	if err := fm.MarkHealthy("/marathon-lb"); err != nil {
		t.Fatal(err)
	}
	web := func(port int) fakemarathon.AppSpec {
		return fakemarathon.AppSpec{ID: "/shop/web", Instances: 1, Network: fakemarathon.Host,
			Labels: map[string]string{"HAPROXY_GROUP": "external"},
			Ports:  []fakemarathon.PortSpec{{ServicePort: 10080, Labels: map[string]string{"VIP_0": "/shop/web:80"}}}, TaskPorts: [][]int{{port}}}
	}
	fm.Deploy(web(20001))
	other := func(i, version int) fakemarathon.AppSpec {
		return fakemarathon.AppSpec{ID: fmt.Sprintf("/load/app-%03d", i), Instances: 1, Network: fakemarathon.Host,
			Labels: map[string]string{"version": fmt.Sprint(version)}, Ports: []fakemarathon.PortSpec{{ServicePort: 11000 + i}}}
	}
	for i := range apps - 2 {
		fm.Deploy(other(i, 1))
	}

	routes := []string{"marathon:/shop/web", "minuteman:/shop/web:80", "marathon-lb:/shop/web"}
	port := testnet.FreePort(t)
	gw := fmt.Sprintf("name: shop\nport: %d/http\nroutes:\n", port)
	for i, r := range routes {
		gw += fmt.Sprintf("  %q:\n    weight: %d%%\n", r, []int{34, 33, 33}[i])
	}
	tt := start(t, gw, "--marathon-url", fm.URL())
	tt.awaitStatus("shop", 30*time.Second, "the three routes resolved", func(st e2eStatus) bool {
		for _, r := range routes {
			if len(st.route(r).Endpoints) != 1 {
				return false
			}
		}
		return true
	})
	watchers := fm.Streams()
	atStart := rqSettle(t, fm, watchers)
	t.Logf("%d apps; %d event streams; requests to Marathon from the start until settled: %s (total %d)",
		apps, watchers, atStart, atStart.total())

	// At rest: only the member checks.
	rest := time.Now()
	testnet.Eventually(t, 120*time.Second, "20 rounds of member checks", func() bool {
		return rqCount(fm)["/v2/leader"] >= atStart["/v2/leader"]+20*watchers
	})
	atRest := rqCount(fm).minus(atStart)
	elapsed := time.Since(rest)
	perMinute := float64(atRest.total()) * float64(time.Minute) / float64(elapsed)
	t.Logf("at rest for %s: %s; %.0f requests a minute (resync 5m adds %d full reads every 5 minutes)",
		elapsed.Round(time.Second), atRest, perMinute, watchers)

	// Events, spaced: ten new versions of apps no gateway uses, one at a
	// time (each waits until every watcher read Marathon after it), as
	// deployments come in a cluster; then, in a burst, three at once and a
	// new version of the app the gateway's routes use, which the
	// marathon: route follows.
	phase := func(what string, deploy func()) rqCounts {
		t.Helper()
		before, events, bytes := rqCount(fm), fm.Emitted(), fm.BytesServed()
		deploy()
		after := rqSettle(t, fm, watchers)
		n := fm.Emitted() - events
		d := after.minus(before)
		t.Logf("%s: %d events, %s; %.2f reads of Marathon per event (%.2f full reads of %d apps), besides the member checks; %.0f kB served",
			what, n, d, float64(d.reads())/float64(n), float64(d["apps"])/float64(n), apps, float64(fm.BytesServed()-bytes)/1000)
		return d
	}
	// Task events one at a time, each given time to be read after: a
	// task of an app no gateway uses starts being killed, then is gone.
	tasks := phase("6 task events one at a time", func() {
		for i := range 3 {
			task := fm.Tasks(fmt.Sprintf("/load/app-%03d", 80+i))[0]
			if err := fm.KillTask(task); err != nil {
				t.Fatal(err)
			}
			rqSettle(t, fm, watchers)
			if err := fm.TaskKilled(task); err != nil {
				t.Fatal(err)
			}
			rqSettle(t, fm, watchers)
		}
	})
	spaced := phase("10 deployments one at a time", func() {
		for i := range 10 {
			before := rqCount(fm).reads()
			fm.Deploy(other(40+i, 2))
			testnet.Eventually(t, 20*time.Second, "every watcher reading after a deployment", func() bool {
				return rqCount(fm).reads() >= before+watchers
			})
		}
	})
	burst := phase("4 deployments at once", func() {
		for i := range 3 {
			fm.Deploy(other(60+i, 2))
		}
		fm.Deploy(web(20002))
		tt.awaitStatus("shop", 20*time.Second, "the marathon: route on the new task", func(st e2eStatus) bool {
			r := st.route("marathon:/shop/web")
			return len(r.Endpoints) == 1 && r.Endpoints[0].Address == "127.0.0.1:20002"
		})
	})

	if watchers != 2 {
		t.Errorf("%d event streams, want 2: the DC/OS plugin's and the port checks'", watchers)
	}
	if tasks.reads() != 0 {
		t.Errorf("task events of known tasks read Marathon: %s", tasks)
	}
	for _, d := range []rqCounts{spaced, burst} {
		if d["apps"] != 0 || d["/v2/deployments"] != 0 {
			t.Errorf("events read everything again: %s", d)
		}
	}
	if atRest.reads() != 0 {
		t.Errorf("Marathon read at rest: %s", atRest)
	}
}
