package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/internal/zktest"
)

// Three agents on one ZooKeeper, as on three public agents of a DC/OS
// cluster (here three loopback addresses, 127.0.0.1 to .3, one gateway
// port): what the tests of issue 15 (cluster mode) ask to be shown with
// real processes.

// zkAgents starts n agents on url, agent i binding 127.0.0.(i+1).
func zkAgents(t *testing.T, url string, n int) []*turnout {
	t.Helper()
	var out []*turnout
	for i := range n {
		out = append(out, run(t, "--store", url, "--bind", fmt.Sprintf("127.0.0.%d", i+1)))
	}
	return out
}

// onlyTo is a gateway that sends all its traffic to one backend of two.
func onlyTo(name string, port int, to, other *backend) string {
	return fmt.Sprintf("name: %s\nport: %d\nroutes:\n  \"[%s]\":\n    weight: 100%%\n  \"[%s]\":\n    weight: 0%%\n", name, port, to.addr, other.addr)
}

// split2 is a gateway that sends weight1 percent to one backend, the rest
// to the other.
func split2(name string, port int, one, other *backend, weight1 int) string {
	return fmt.Sprintf("name: %s\nport: %d\nroutes:\n  \"[%s]\":\n    weight: %d%%\n  \"[%s]\":\n    weight: %d%%\n", name, port, one.addr, weight1, other.addr, 100-weight1)
}

// gatewayURL is agent i's listener of a gateway port (see zkAgents).
func gatewayURL(i, port int) string { return fmt.Sprintf("http://127.0.0.%d:%d/", i+1, port) }

// backendNow is the backend that answers url now ("" if none answered).
func backendNow(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return ""
	}
	return resp.Header.Get("X-Backend")
}

func (tt *turnout) readyz() (int, string) {
	tt.t.Helper()
	code, _, body := apiCall(tt.t, "GET", "http://"+tt.admin+"/readyz", "", "")
	return code, body
}

// e2eCluster is what GET /api/v1/cluster says, with staleness, decoded by the
// test's own type so that the field names are under test.
type e2eCluster struct {
	Stale      bool       `json:"stale"`
	StaleSince *time.Time `json:"stale_since"`
	Leader     string     `json:"leader"`
	Version    int64      `json:"store_version"`
	Agents     []struct {
		Admin   string `json:"admin"`
		Applied int64  `json:"applied_version"`
	} `json:"agents"`
}

func (tt *turnout) clusterView() e2eCluster {
	tt.t.Helper()
	var st e2eCluster
	tt.getJSON("/api/v1/cluster", &st)
	return st
}

// A change through agent A is served by B and C; an agent started late
// serves the whole state as soon as it answers, then follows; two agents
// racing PUTs with the same If-Match: exactly one wins, the other gets
// 412, and every agent serves the winner's.
func TestZKThreeAgentsConverge(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	srv := zktest.Start(t)
	url := "zk://" + srv.Addr() + "/e2e/turnout"
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	web, api := testnet.FreePort(t), testnet.FreePort(t)
	agents := zkAgents(t, url, 2)
	a, b := agents[0], agents[1]
	gw := func(agent *turnout, name string) string {
		return "http://" + agent.admin + "/api/v1/gateways/" + name
	}
	if code, _, body := putIfMatch(t, gw(a, "shop"), "", onlyTo("shop", web, v1, v2)); code != 201 {
		t.Fatalf("create shop through a: %d %s", code, body)
	}
	if code, _, body := putIfMatch(t, gw(a, "api"), "", onlyTo("api", api, v2, v1)); code != 201 {
		t.Fatalf("create api through a: %d %s", code, body)
	}
	answers(t, gatewayURL(1, web), "v1", "b to serve shop")
	answers(t, gatewayURL(1, api), "v2", "b to serve api")

	// C starts late: it reads the whole state before it answers /healthz
	// (which run waits for), so both gateways serve at once, no waiting.
	c := run(t, "--store", url, "--bind", "127.0.0.3")
	agents = append(agents, c)
	if got := backendNow(t, gatewayURL(2, web)); got != "v1" {
		t.Errorf("c, started late, serves shop from %q at its first answer, want v1", got)
	}
	if got := backendNow(t, gatewayURL(2, api)); got != "v2" {
		t.Errorf("c, started late, serves api from %q at its first answer, want v2", got)
	}
	// ... then follows: a change through A reaches B and C.
	if code, _, body := putIfMatch(t, gw(a, "shop"), `"1"`, onlyTo("shop", web, v2, v1)); code != 200 {
		t.Fatalf("update shop through a: %d %s", code, body)
	}
	for i := range agents {
		answers(t, gatewayURL(i, web), "v2", fmt.Sprintf("agent %d to serve a's change", i))
	}

	// Races: A and B PUT with the same If-Match at once, each a document
	// of its own that differs from every earlier one (a PUT of the current
	// document is a no-op, answered 200). ZooKeeper's compare-and-set lets
	// one through.
	rev, weight := 2, 0
	for round := range 5 {
		weights := []int{10 + 2*round, 11 + 2*round} // v1's weight through a, through b
		codes := make([]int, 2)
		bodies := make([]string, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, agent := range []*turnout{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				codes[i], _, bodies[i] = putIfMatch(t, gw(agent, "shop"), fmt.Sprintf(`"%d"`, rev), split2("shop", web, v1, v2, weights[i]))
			}()
		}
		close(start)
		wg.Wait()
		switch {
		case codes[0] == 200 && codes[1] == 412:
			weight = weights[0]
		case codes[0] == 412 && codes[1] == 200:
			weight = weights[1]
		default:
			t.Fatalf("round %d: a answered %d %s, b answered %d %s; want one 200 and one 412", round, codes[0], bodies[0], codes[1], bodies[1])
		}
		rev++
		code, etag, body := apiCall(t, "GET", gw(c, "shop"), "", "")
		if code != 200 || etag != fmt.Sprintf(`"%d"`, rev) || !strings.Contains(body, fmt.Sprintf(`"weight":"%d%%"`, weight)) {
			t.Fatalf("round %d: c reads shop as %d %s %s, want revision %d (one write per round) with v1 at the winner's %d%%", round, code, etag, body, rev, weight)
		}
	}
	for i, agent := range agents {
		agent.awaitStatus("shop", 15*time.Second, fmt.Sprintf("agent %d to serve the last winner's %d%%", i, weight), func(st e2eStatus) bool {
			return st.route("["+v1.addr+"]").Weight == fmt.Sprintf("%d%%", weight)
		})
	}
	if st := c.clusterView(); len(st.Agents) != 3 || st.Stale {
		t.Errorf("cluster status through c: %+v, want 3 agents, not stale", st)
	}
}

// ZooKeeper stopped for 10 s while traffic goes through all three agents:
// no request fails, every agent says it is stale (/readyz, the metric,
// cluster status), a write is refused with 503 and changes nothing;
// after the restart every agent is in sync again, lists the three agents
// (their election znodes are back), and a write through one reaches the
// others.
func TestZKOutageUnderLoad(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	srv := zktest.Start(t)
	// A short session: a 10 s outage outlives it, so the sessions may be
	// expired when the server comes back, and the znodes made again.
	url := "zk://" + srv.Addr() + "/e2e/turnout?session-timeout=2s"
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	port := testnet.FreePort(t)
	agents := zkAgents(t, url, 3)
	a, b := agents[0], agents[1]
	shop := func(agent *turnout) string { return "http://" + agent.admin + "/api/v1/gateways/shop" }
	if code, _, body := putIfMatch(t, shop(a), "", onlyTo("shop", port, v1, v2)); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	var loads []*load
	for i, agent := range agents {
		answers(t, gatewayURL(i, port), "v1", fmt.Sprintf("agent %d to serve", i))
		testnet.Eventually(t, 15*time.Second, fmt.Sprintf("agent %d ready", i), func() bool {
			code, _ := agent.readyz()
			return code == 200
		})
		loads = append(loads, startLoad(t, gatewayURL(i, port), loadOptions{clients: 2, pace: 5 * time.Millisecond, timeout: 10 * time.Second}))
	}
	for i, l := range loads {
		l.await(t, 50, fmt.Sprintf("traffic through agent %d", i))
	}

	stopped := time.Now()
	srv.Stop()
	testnet.Eventually(t, 15*time.Second, "a write through a to be refused with 503", func() bool {
		code, _, _ := putIfMatch(t, shop(a), `"1"`, onlyTo("shop", port, v2, v1))
		return code == 503
	})
	if code, _, body := putIfMatch(t, shop(b), `"1"`, onlyTo("shop", port, v2, v1)); code != 503 || !strings.Contains(body, "store is unavailable") {
		t.Errorf("a write through b during the outage: %d %s, want 503", code, body)
	}
	for i, agent := range agents {
		testnet.Eventually(t, 15*time.Second, fmt.Sprintf("agent %d to say it is stale", i), func() bool {
			code, body := agent.readyz()
			return code == 503 && strings.Contains(body, "stale since")
		})
		if m := agent.metrics(); !strings.Contains(m, "\nturnout_store_stale 1\n") {
			t.Errorf("agent %d: turnout_store_stale is not 1 during the outage", i)
		}
		st := agent.clusterView()
		if !st.Stale || st.StaleSince == nil || st.StaleSince.Before(stopped.Add(-time.Second)) || st.Version != 1 || len(st.Agents) == 0 {
			t.Errorf("agent %d: cluster status during the outage: %+v, want stale since the stop, at version 1", i, st)
		}
		if out, code := agent.cli("cluster", "status"); code != 0 || !strings.Contains(out, "Stale: since") {
			t.Errorf("agent %d: turnout cluster status during the outage: exit %d\n%s", i, code, out)
		}
	}
	// The outage lasts until every agent says it has been stale for 10 s
	// (its turnout_store_stale_seconds), past the 2 s sessions; traffic
	// goes on through it.
	for i, agent := range agents {
		testnet.Eventually(t, 60*time.Second, fmt.Sprintf("agent %d stale for 10 s", i), func() bool {
			return counter(agent.metrics(), "turnout_store_stale_seconds") >= 10
		})
	}
	for i, l := range loads {
		l.await(t, 50, fmt.Sprintf("traffic through agent %d at the end of the outage", i))
	}
	srv.Restart()

	for i, agent := range agents {
		testnet.Eventually(t, 30*time.Second, fmt.Sprintf("agent %d ready again", i), func() bool {
			code, _ := agent.readyz()
			return code == 200
		})
		testnet.Eventually(t, 30*time.Second, fmt.Sprintf("agent %d to list the three agents", i), func() bool {
			code, _, body := apiCall(t, "GET", "http://"+agent.admin+"/api/v1/cluster", "", "")
			return code == 200 && strings.Count(body, `"admin"`) == 3 && strings.Contains(body, `"stale":false`)
		})
		if m := agent.metrics(); !strings.Contains(m, "\nturnout_store_stale 0\n") || !strings.Contains(m, "\nturnout_store_stale_seconds 0\n") {
			t.Errorf("agent %d: turnout_store_stale(_seconds) not 0 once in sync", i)
		}
	}
	// The refused writes changed nothing: shop is at revision 1 still.
	if code, etag, body := apiCall(t, "GET", shop(b), "", ""); code != 200 || etag != `"1"` {
		t.Fatalf("shop after the outage: %d %s %s, want revision 1", code, etag, body)
	}
	if code, _, body := putIfMatch(t, shop(b), `"1"`, onlyTo("shop", port, v2, v1)); code != 200 {
		t.Fatalf("a write through b after the restart: %d %s", code, body)
	}
	for i := range agents {
		answers(t, gatewayURL(i, port), "v2", fmt.Sprintf("agent %d to serve b's write after the restart", i))
	}
	for i, l := range loads {
		l.finish(t, fmt.Sprintf("traffic through agent %d", i))
	}
}

// One agent cut off from ZooKeeper (a network partition) until its
// sessions expire, while the others go on: it serves its last state and
// says it is stale; the others drop it from the cluster and take writes;
// once it is back it reads the whole state again, serves their writes,
// and its election znode is made again.
func TestZKPartitionedAgent(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	srv := zktest.Start(t)
	proxy := zktest.NewProxy(t, srv.Addr())
	path := "/e2e/turnout?session-timeout=2s"
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	port := testnet.FreePort(t)
	a := run(t, "--store", "zk://"+srv.Addr()+path)
	b := run(t, "--store", "zk://"+srv.Addr()+path, "--bind", "127.0.0.2")
	c := run(t, "--store", "zk://"+proxy.Addr()+path, "--bind", "127.0.0.3") // c reaches ZooKeeper through the proxy only
	shop := func(agent *turnout) string { return "http://" + agent.admin + "/api/v1/gateways/shop" }
	if code, _, body := putIfMatch(t, shop(a), "", onlyTo("shop", port, v1, v2)); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	answers(t, gatewayURL(2, port), "v1", "c to serve")
	testnet.Eventually(t, 15*time.Second, "a to list the three agents", func() bool { return len(a.clusterView().Agents) == 3 })
	load := startLoad(t, gatewayURL(2, port), loadOptions{clients: 2, pace: 5 * time.Millisecond, timeout: 10 * time.Second})

	proxy.Cut()
	testnet.Eventually(t, 30*time.Second, "a to drop c from the cluster (its session expired)", func() bool {
		st := a.clusterView()
		return len(st.Agents) == 2 && !strings.Contains(fmt.Sprint(st.Agents), c.admin)
	})
	if code, body := c.readyz(); code != 503 || !strings.Contains(body, "stale since") {
		t.Errorf("c's /readyz while cut off: %d %q", code, body)
	}
	if code, _, body := putIfMatch(t, shop(c), `"1"`, onlyTo("shop", port, v2, v1)); code != 503 {
		t.Errorf("a write through c while cut off: %d %s, want 503", code, body)
	}
	if code, _, body := putIfMatch(t, shop(a), `"1"`, onlyTo("shop", port, v2, v1)); code != 200 {
		t.Fatalf("a write through a while c is cut off: %d %s", code, body)
	}
	answers(t, gatewayURL(1, port), "v2", "b to serve a's write")
	if code, _ := b.readyz(); code != 200 {
		t.Errorf("b's /readyz while c is cut off: %d, want 200 (b is in sync)", code)
	}
	if got := backendNow(t, gatewayURL(2, port)); got != "v1" {
		t.Errorf("c, cut off, serves %q, want its last state, v1", got)
	}
	load.await(t, 50, "traffic through c while cut off")

	proxy.Restore()
	answers(t, gatewayURL(2, port), "v2", "c to serve a's write once back")
	testnet.Eventually(t, 30*time.Second, "c ready again", func() bool {
		code, _ := c.readyz()
		return code == 200
	})
	testnet.Eventually(t, 30*time.Second, "a to list c again (its znode made again)", func() bool {
		return strings.Contains(fmt.Sprint(a.clusterView().Agents), c.admin)
	})
	if !strings.Contains(c.logs.String(), "zookeeper session expired") {
		t.Error("c's store session did not expire: the partition was too short to test a new session")
	}
	load.finish(t, "traffic through c")
}
