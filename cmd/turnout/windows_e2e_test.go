package main

// End-to-end tests of policies deciding on every agent's traffic (issue
// 15): three real turnout agents on one real ZooKeeper, where the traffic
// goes only through the two that do not lead.

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/internal/zktest"
)

// threeAgents starts a, which leads, then b and c on 127.0.0.2 and
// 127.0.0.3, all on the store URL.
func threeAgents(t *testing.T, url string) (a, b, c *turnout) {
	t.Helper()
	a = run(t, "--store", url)
	testnet.Eventually(t, 15*time.Second, "a to lead", func() bool { return strings.Contains(a.logs.String(), "this agent leads") })
	b = run(t, "--store", url, "--bind", "127.0.0.2")
	c = run(t, "--store", url, "--bind", "127.0.0.3")
	testnet.Eventually(t, 15*time.Second, "three agents in the cluster", func() bool { return len(a.cluster().Agents) == 3 })
	return a, b, c
}

// startOtherLoad waits until b and c serve shop on port, then sends them
// traffic, none to the leader.
func startOtherLoad(t *testing.T, port int) (*load, *load) {
	t.Helper()
	var out [2]*load
	for i, host := range []string{"127.0.0.2", "127.0.0.3"} {
		url := fmt.Sprintf("http://%s:%d/", host, port)
		answers(t, url, "1.0.0", "shop served on "+host)
		out[i] = startPolicyLoad(t, url, 2, 5*time.Millisecond)
	}
	return out[0], out[1]
}

// shopRequests is the requests an agent's /metrics counts for gateway
// shop, over its routes and classes.
func shopRequests(t *testing.T, tt *turnout) float64 {
	t.Helper()
	var n float64
	for _, line := range strings.Split(tt.metrics(), "\n") {
		if !strings.HasPrefix(line, "turnout_requests_total{") || !strings.Contains(line, `gateway="shop"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		n += v
	}
	return n
}

// onlyThroughOthers checks that the leader a served none of shop's
// traffic and b and c served some: the leader decided on theirs.
func onlyThroughOthers(t *testing.T, a, b, c *turnout) {
	t.Helper()
	if n := shopRequests(t, a); n != 0 {
		t.Errorf("the leader served %v requests of shop; the test sends it none", n)
	}
	for name, tt := range map[string]*turnout{"b": b, "c": c} {
		if n := shopRequests(t, tt); n == 0 {
			t.Errorf("%s served no request of shop", name)
		}
		if strings.Contains(tt.logs.String(), "policy decision") {
			t.Errorf("%s, not the leader, decided", name)
		}
	}
}

// The canary promotes on traffic that went only through the two agents
// that do not lead. Deciding on its own traffic, the leader would have
// held at the first step for want of min_requests (no request at all).
func TestZKCanaryPromotesOnOtherAgentsTraffic(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	srv := zktest.Start(t)
	a, b, c := threeAgents(t, "zk://"+srv.Addr()+"/e2e/turnout?session-timeout=2s")
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	port := testnet.FreePort(t)
	doc := canaryGateway(port, stable, canary, "  interval: 1s\n  steps: [20, 50]\n  threshold: 1\n  min_requests: 5\n  max_error_rate: 1\n")
	if code, _, body := putIfMatch(t, "http://"+b.admin+"/api/v1/gateways/shop", "", doc); code != 201 {
		t.Fatalf("create through b: %d %s", code, body)
	}
	lb, lc := startOtherLoad(t, port)
	st := c.awaitStatus("shop", 60*time.Second, "the promotion", func(st e2eStatus) bool { return st.Policy.Phase == "promoted" })
	lb.stop()
	lc.stop()
	if st.Policy.Last.Agents != 3 || len(st.Policy.Last.Late) != 0 {
		t.Errorf("the promotion summed %d agents, late %+v; want 3, none late", st.Policy.Last.Agents, st.Policy.Last.Late)
	}
	onlyThroughOthers(t, a, b, c)
	h := c.history()
	for _, want := range []string{"policy canary: step:", "policy canary: promote:"} {
		if !strings.Contains(h, want) {
			t.Errorf("history lacks %q:\n%s", want, h)
		}
	}
	if lb.failed.Load()+lc.failed.Load() != 0 {
		t.Errorf("%d requests failed", lb.failed.Load()+lc.failed.Load())
	}
	c.expectCLI(0, "Traffic:  summed over 3 agents", "gateway", "status", "shop")
}

// The canary's own 500s, served only by the agents that do not lead, roll
// it back: the leader sees the errors it did not serve.
func TestZKCanaryRolledBackOnOtherAgentsErrors(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	srv := zktest.Start(t)
	a, b, c := threeAgents(t, "zk://"+srv.Addr()+"/e2e/turnout?session-timeout=2s")
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	canary.failEvery.Store(2) // half its answers are 500s
	port := testnet.FreePort(t)
	doc := canaryGateway(port, stable, canary, "  interval: 1s\n  steps: [20, 50]\n  threshold: 1\n  min_requests: 5\n  max_error_rate: 5\n")
	if code, _, body := putIfMatch(t, "http://"+b.admin+"/api/v1/gateways/shop", "", doc); code != 201 {
		t.Fatalf("create through b: %d %s", code, body)
	}
	startOtherLoad(t, port)
	st := b.awaitStatus("shop", 60*time.Second, "the rollback in service", func(st e2eStatus) bool {
		return st.Policy.Phase == "rolled-back" && st.route("["+canary.addr+"]").Effective == "0%"
	})
	if st.Policy.Last.Agents != 3 || !strings.Contains(st.Policy.Last.Reason, "error rate") {
		t.Errorf("the rollback: %+v", st.Policy.Last)
	}
	onlyThroughOthers(t, a, b, c)
	if h := b.history(); !strings.Contains(h, "policy canary: rollback:") {
		t.Errorf("no rollback revision:\n%s", h)
	}
}

// An agent that stops publishing (SIGSTOP: it neither serves nor
// publishes, but its session lives until it expires) is reported late in
// the decision, the gateway's status and the leader's metrics, and the
// rollout goes on on the others' traffic. Once it runs again it is
// counted again.
func TestZKLateAgentReported(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	srv := zktest.Start(t)
	// The session outlives the late threshold (3 publish periods of 1s)
	// and the whole time c is stopped, however slow the machine: were it to
	// expire, c would leave the cluster instead of being late.
	a, b, c := threeAgents(t, "zk://"+srv.Addr()+"/e2e/turnout?session-timeout=60s")
	var cID string
	for _, ag := range a.cluster().Agents {
		if ag.Admin == c.admin {
			cID = ag.ID
		}
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	port := testnet.FreePort(t)
	// Small steps, one a second: the rollout goes on for the whole test.
	var steps []string
	for w := 2; w < 100; w += 2 {
		steps = append(steps, strconv.Itoa(w))
	}
	doc := canaryGateway(port, stable, canary, "  interval: 1s\n  steps: ["+strings.Join(steps, ", ")+"]\n  threshold: 1\n  min_requests: 1\n")
	if code, _, body := putIfMatch(t, "http://"+b.admin+"/api/v1/gateways/shop", "", doc); code != 201 {
		t.Fatalf("create through b: %d %s", code, body)
	}
	startPolicyLoad(t, fmt.Sprintf("http://127.0.0.2:%d/", port), 2, 5*time.Millisecond)
	b.awaitStatus("shop", 20*time.Second, "a step on three agents", func(st e2eStatus) bool {
		return st.Policy.Last != nil && st.Policy.Last.Action == "step" && st.Policy.Last.Agents == 3
	})

	c.cmd.Process.Signal(syscall.SIGSTOP)
	t.Cleanup(func() { c.cmd.Process.Signal(syscall.SIGCONT) })
	st := b.awaitStatus("shop", 12*time.Second, "c reported late", func(st e2eStatus) bool {
		return st.Policy.Last != nil && len(st.Policy.Last.Late) == 1
	})
	late := st.Policy.Last.Late[0]
	if late.Agent != cID || !strings.HasPrefix(late.Detail, "last published ") {
		t.Errorf("late: %+v, want %s last published ...", late, cID)
	}
	// The decision was made on the others' traffic: a step, said so.
	if st.Policy.Last.Action != "step" {
		t.Errorf("with c late: %+v", st.Policy.Last)
	}
	if h := b.history(); !strings.Contains(h, "traffic of 3 agents; late: "+cID+" (last published ") {
		t.Errorf("no revision names the late agent:\n%s", h)
	}
	b.expectCLI(0, "Late:     "+cID+": last published ", "gateway", "status", "shop")
	out, _ := b.cli("gateway", "status", "shop")
	t.Logf("gateway status with c late:\n%s", out)
	if m := a.metrics(); !strings.Contains(m, `turnout_policy_window_late_agents{gateway="shop"} 1`) {
		t.Errorf("the leader's metrics lack the late agent:\n%s", grepLines(m, "late_agents"))
	}
	if !strings.Contains(a.logs.String(), "an agent's traffic counters are late") {
		t.Error("the leader did not log the late agent")
	}

	c.cmd.Process.Signal(syscall.SIGCONT)
	b.awaitStatus("shop", 15*time.Second, "c counted again", func(st e2eStatus) bool {
		return st.Policy.Last != nil && len(st.Policy.Last.Late) == 0 && st.Policy.Last.Agents == 3
	})
	if m := a.metrics(); !strings.Contains(m, `turnout_policy_window_late_agents{gateway="shop"} 0`) {
		t.Errorf("the leader's metrics still count a late agent:\n%s", grepLines(m, "late_agents"))
	}
}
