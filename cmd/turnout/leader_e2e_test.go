package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/turnout/turnout/core/cluster"
	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/internal/zktest"
)

// canaryWeights is the canary's weight at every revision of shop, oldest
// first, read through tt.
func (tt *turnout) canaryWeights(canary string) []string {
	tt.t.Helper()
	var revs []struct {
		Revision int64 `json:"revision"`
	}
	tt.getJSON("/api/v1/gateways/shop/revisions", &revs)
	var out []string
	for _, r := range revs {
		var doc struct {
			Routes map[string]struct {
				Weight string `json:"weight"`
			} `json:"routes"`
		}
		tt.getJSON(fmt.Sprintf("/api/v1/gateways/shop/revisions/%d", r.Revision), &doc)
		out = append(out, doc.Routes["["+canary+"]"].Weight)
	}
	return out
}

func (tt *turnout) cluster() cluster.Status {
	tt.t.Helper()
	var st cluster.Status
	tt.getJSON("/api/v1/cluster", &st)
	return st
}

// Two agents on one ZooKeeper path: only the leader (the first to start)
// runs the canary; the other answers operator commands through the store
// and lists both in cluster status. SIGKILL the leader mid-rollout: the
// other takes over once ZooKeeper expires the dead session, and the
// rollout goes on from the persisted step to the promotion, every step
// once.
func TestZKOneRunner(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	srv := zktest.Start(t)
	url := "zk://" + srv.Addr() + "/e2e/turnout?session-timeout=2s"
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	port := testnet.FreePort(t)
	a := run(t, "--store", url)
	testnet.Eventually(t, 15*time.Second, "a to lead", func() bool { return strings.Contains(a.logs.String(), "this agent leads") })
	b := run(t, "--store", url, "--bind", "127.0.0.2")

	// The promotion waits for this gate: the rollout is still going when
	// the test kills the leader.
	var open atomic.Bool
	gate := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !open.Load() {
			http.Error(w, "not yet", http.StatusForbidden)
		}
	}))
	doc := canaryGateway(port, stable, canary, "  interval: 1s\n  steps: [10, 20, 30, 40, 50]\n  threshold: 1\n  min_requests: 2\n"+
		"  webhooks:\n    - {name: gate, type: confirm-promotion, url: \"http://"+gate.String()+"/\"}\n")
	if code, _, body := putIfMatch(t, "http://"+b.admin+"/api/v1/gateways/shop", "", doc); code != 201 {
		t.Fatalf("create through b: %d %s", code, body)
	}
	// Traffic through both agents: the leader decides on the sum of both.
	startPolicyLoad(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 2, 5*time.Millisecond)
	startPolicyLoad(t, fmt.Sprintf("http://127.0.0.2:%d/", port), 2, 5*time.Millisecond)
	// At least: on a loaded machine the steps, a second apart, can outrun
	// the polls.
	b.awaitStatus("shop", 20*time.Second, "the canary at 10% or more", func(st e2eStatus) bool { return percent(st.route("["+canary.addr+"]").Weight) >= 10 })

	// Pause through b, the non-leader: a takes it at once.
	if out, code := b.cli("gateway", "pause", "shop"); code != 0 {
		t.Fatalf("pause through b: exit %d %s", code, out)
	}
	paused := b.awaitStatus("shop", 10*time.Second, "paused", func(st e2eStatus) bool { return st.Policy.Phase == "paused" })
	if out, code := b.cli("gateway", "resume", "shop"); code != 0 {
		t.Fatalf("resume through b: exit %d %s", code, out)
	}
	// Going on: a step past the paused weight, or at the last step the
	// wait for the promotion's gate.
	at := percent(paused.route("[" + canary.addr + "]").Weight)
	b.awaitStatus("shop", 20*time.Second, fmt.Sprintf("the rollout going on from %d%% after the resume", at), func(st e2eStatus) bool {
		return percent(st.route("["+canary.addr+"]").Weight) > at || st.Policy.Phase == "waiting-promotion"
	})
	if l := b.logs.String(); strings.Contains(l, "policy decision") || strings.Contains(l, "this agent leads") {
		t.Fatalf("b led or decided while a led:\n%s", l)
	}

	st := b.cluster()
	if len(st.Agents) != 2 || !st.Agents[0].Leader || st.Agents[0].Admin != a.admin || st.Agents[1].Admin != b.admin || st.Leader != st.Agents[0].ID {
		t.Fatalf("cluster status through b: %+v", st)
	}
	out, code := b.cli("cluster", "status")
	if code != 0 || !strings.Contains(out, a.admin) || !strings.Contains(out, b.admin) || !strings.Contains(out, "Leader: "+st.Leader) {
		t.Fatalf("turnout cluster status: exit %d\n%s", code, out)
	}

	// The leader dies mid-rollout, without withdrawing: the promotion
	// waits for the test's gate, however fast the steps outran the test.
	a.cmd.Process.Signal(syscall.SIGKILL)
	a.cmd.Wait()
	testnet.Eventually(t, 30*time.Second, "b to lead and decide", func() bool {
		l := b.logs.String()
		return strings.Contains(l, "this agent leads") && strings.Contains(l, "policy decision")
	})
	open.Store(true)
	b.awaitStatus("shop", 60*time.Second, "the promotion", func(st e2eStatus) bool { return st.Policy.Phase == "promoted" })
	if !strings.Contains(b.logs.String(), "policy decision") {
		t.Fatal("b never decided")
	}
	st = b.cluster()
	if len(st.Agents) != 1 || st.Agents[0].Admin != b.admin || !st.Agents[0].Leader {
		t.Fatalf("cluster status after a died: %+v", st)
	}

	// Every step once, in order, then the promotion: none repeated by the
	// new leader, none skipped.
	var steps []string
	for _, w := range b.canaryWeights(canary.addr) {
		if len(steps) == 0 || steps[len(steps)-1] != w {
			steps = append(steps, w)
		}
	}
	if want := []string{"0%", "10%", "20%", "30%", "40%", "50%", "100%"}; !slices.Equal(steps, want) {
		t.Fatalf("canary weights over the revisions: %v, want %v\n%s", steps, want, b.history())
	}
	// Consecutive revisions with the same weight would be a double step.
	if all := b.canaryWeights(canary.addr); len(all) != len(steps) {
		t.Errorf("a weight written twice: %v\n%s", all, b.history())
	}
}

// ZooKeeper down mid-rollout: the agent stops leading, so no policy runs
// (none tries to decide and fails to save); when ZooKeeper is back it
// leads again and the rollout goes on to the promotion, every step once.
func TestZKOutageHoldsPolicies(t *testing.T) {
	// Waits on processes and ZooKeeper or Marathon far more than it
	// computes: it runs beside the others.
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	srv := zktest.Start(t)
	url := "zk://" + srv.Addr() + "/e2e/turnout?session-timeout=2s"
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	port := testnet.FreePort(t)
	a := run(t, "--store", url)
	doc := canaryGateway(port, stable, canary, "  interval: 1s\n  steps: [10, 20, 30]\n  threshold: 1\n  min_requests: 2\n")
	if code, _, body := putIfMatch(t, "http://"+a.admin+"/api/v1/gateways/shop", "", doc); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	startPolicyLoad(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 2, 5*time.Millisecond)
	a.awaitStatus("shop", 20*time.Second, "the canary at 10% or more", func(st e2eStatus) bool { return percent(st.route("["+canary.addr+"]").Weight) >= 10 })

	srv.Stop()
	testnet.Eventually(t, 15*time.Second, "a to stop leading", func() bool { return strings.Contains(a.logs.String(), "this agent no longer leads") })
	srv.Restart()
	testnet.Eventually(t, 30*time.Second, "a to lead again", func() bool { return strings.Count(a.logs.String(), "this agent leads") >= 2 })
	a.awaitStatus("shop", 60*time.Second, "the promotion", func(st e2eStatus) bool { return st.Policy.Phase == "promoted" })
	// From the lost lead to the lead again: a decision in flight when
	// ZooKeeper went may have failed before the lead was seen lost.
	l := a.logs.String()
	l = l[strings.Index(l, "this agent no longer leads"):]
	l = l[:strings.Index(l, "this agent leads")]
	if strings.Contains(l, "policy decision not saved") || strings.Contains(l, "policy state unreadable") || strings.Contains(l, "policy decision failed") {
		t.Errorf("a policy ran without ZooKeeper:\n%s", l)
	}
	if steps, want := a.canaryWeights(canary.addr), []string{"0%", "10%", "20%", "30%", "100%"}; !slices.Equal(steps, want) {
		t.Fatalf("canary weights over the revisions: %v, want %v\n%s", steps, want, a.history())
	}
}
