package main

// End-to-end tests of routing policies (issue 6): the real turnout binary,
// its built-in canary and bluegreen policy plugins as real subprocesses, and
// real backends on 127.0.0.1 whose errors and latency the tests control.

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// startPolicyLoad sends requests with c keep-alive clients until stopped,
// counting the answers by backend and status; a request fails when it has
// no answer or one the gateway made itself (502/503/504), not when a
// version answers 500.
func startPolicyLoad(t *testing.T, url string, clients int, pace time.Duration) *load {
	return startLoad(t, url, loadOptions{clients: clients, pace: pace, timeout: 10 * time.Second, backendErrors: true})
}

// policyGateway is a gateway from stable to canary driven by a policy.
func policyGateway(port int, stable, canary *backend, policy string) string {
	return fmt.Sprintf(`name: shop
port: %d/http
routes:
  "[%s]":
    weight: 100%%
  "[%s]":
    weight: 0%%
policy:
%s`, port, stable.addr, canary.addr, policy)
}

// startCanary starts turnout on a policyGateway from stable to canary whose
// policy is a canary with these settings (the lines after its type, stable
// and canary), and returns the gateway's URL.
func startCanary(t *testing.T, stable, canary *backend, settings string) (*turnout, string) {
	port := testnet.FreePort(t)
	tt := start(t, canaryGateway(port, stable, canary, settings))
	return tt, fmt.Sprintf("http://127.0.0.1:%d/", port)
}

func canaryGateway(port int, stable, canary *backend, settings string) string {
	return policyGateway(port, stable, canary, fmt.Sprintf("  type: canary\n  stable: \"[%s]\"\n  canary: \"[%s]\"\n", stable.addr, canary.addr)+settings)
}

// history is the gateway's revisions with their reasons.
func (tt *turnout) history() string {
	out, code := tt.cli("gateway", "history", "shop")
	if code != 0 {
		tt.t.Fatalf("history: exit %d: %s", code, out)
	}
	return out
}

func TestCanaryPromotedThroughEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	const interval, steps = time.Second, 3
	tt, url := startCanary(t, stable, canary, fmt.Sprintf(`  interval: %s
  steps: [10, 30, 60]
  threshold: 2
  min_requests: 3
  max_error_rate: 1
  max_p99: 500ms
`, interval))
	l := startPolicyLoad(t, url, 4, 5*time.Millisecond)

	// A CI job gating on the rollout: --wait exits 0 once promoted.
	out, code := tt.cli("gateway", "status", "shop", "--wait", "--wait-timeout", "30s")
	if code != 0 || !strings.Contains(out, "promoted") {
		t.Fatalf("status --wait: exit %d\n%s", code, out)
	}
	// From the gateway's creation (revision 1) to the promotion's revision.
	var revs []struct {
		Time   time.Time `json:"time"`
		Reason string    `json:"reason"`
	}
	tt.getJSON("/api/v1/gateways/shop/revisions", &revs)
	t.Logf("promoted %s after the gateway was created (interval %s x %d steps)", revs[len(revs)-1].Time.Sub(revs[0].Time).Round(10*time.Millisecond), interval, steps)
	if !strings.HasPrefix(revs[len(revs)-1].Reason, "policy canary: promote:") {
		t.Errorf("the last revision is %q, not the promotion", revs[len(revs)-1].Reason)
	}
	// One decision per step and one to promote: no interval was lost to a
	// hold. Counted, not timed: a loaded machine's late ticks don't count.
	if st := tt.status("shop"); st.Policy.Decisions != steps+1 {
		t.Errorf("promoted after %d decisions, want %d (one per step, then the promotion)", st.Policy.Decisions, steps+1)
	}
	testnet.Eventually(t, 10*time.Second, "all traffic on the canary", func() bool {
		before, n := l.count("1.0.0 200"), canary.n.Load()
		l.await(t, 100, "on the promoted table")
		return l.count("1.0.0 200") == before && canary.n.Load() > n
	})
	l.stop()
	if l.failed.Load() != 0 {
		t.Errorf("%d requests failed during the rollout", l.failed.Load())
	}
	h := tt.history()
	for _, want := range []string{"policy canary: step:", "10%", "30%", "60%", "policy canary: promote:"} {
		if !strings.Contains(h, want) {
			t.Errorf("history lacks %q:\n%s", want, h)
		}
	}
	// The series a dashboard draws the rollout from and an alert fires on
	// (docs/observability): steps and the promotion counted, the phase,
	// the routes' weights.
	canaryRoute := fmt.Sprintf("[%s]", canary.addr)
	testnet.Eventually(t, 10*time.Second, "the rollout's metrics", func() bool {
		m := tt.metrics()
		for _, want := range []string{
			`turnout_policy_decisions_total{gateway="shop",policy="canary",result="step"} 3`,
			`turnout_policy_decisions_total{gateway="shop",policy="canary",result="promote"} 1`,
			`turnout_policy_phase{gateway="shop",phase="promoted",policy="canary"} 1`,
			`turnout_route_weight{gateway="shop",kind="effective",route="` + canaryRoute + `"} 100`,
			`turnout_route_weight{gateway="shop",kind="configured",route="` + canaryRoute + `"} 100`,
		} {
			if !strings.Contains(m, want) {
				t.Logf("/metrics lacks %s", want)
				return false
			}
		}
		return true
	})
}

func TestCanaryRolledBackAfterThresholdFailedChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	canary.failEvery.Store(5) // 20% of its requests answer 500
	tt, url := startCanary(t, stable, canary, `  interval: 700ms
  steps: [20, 40, 60]
  threshold: 2
  min_requests: 5
  max_error_rate: 5
`)
	l := startPolicyLoad(t, url, 4, 5*time.Millisecond)
	out, code := tt.cli("gateway", "status", "shop", "--wait", "--wait-timeout", "30s")
	if code != 1 || !strings.Contains(out, "rolled-back") {
		t.Fatalf("status --wait: exit %d, want 1 (rolled back)\n%s", code, out)
	}
	// Exactly threshold failed checks, then the rollback: the first step,
	// one decision that holds on a failed check, one that rolls back.
	h := tt.history()
	if !strings.Contains(h, "policy canary: rollback: rolled back: check failed (1/2): canary error rate") || !strings.Contains(h, "check failed (2/2)") {
		t.Errorf("no rollback revision naming its figures:\n%s", h)
	}
	st := tt.status("shop")
	if st.Policy.Decisions != 3 {
		t.Errorf("%d decisions, want 3 (step, failed check, rollback)", st.Policy.Decisions)
	}
	if st.Routes[0].Effective != "100%" || st.Routes[1].Effective != "0%" {
		t.Errorf("after the rollback: %+v", st.Routes)
	}
	l.stop()
	// The 500s were the canary's own; the switches themselves failed nothing.
	if l.failed.Load() != 0 || l.count("1.0.0 500") != 0 {
		t.Errorf("%d requests failed outright, %d stable 500s", l.failed.Load(), l.count("1.0.0 500"))
	}
}

func TestCanaryWithTooLittleTrafficHolds(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	tt, url := startCanary(t, stable, canary, `  interval: 300ms
  steps: [10, 50]
  threshold: 2
  min_requests: 1000
`)
	l := startPolicyLoad(t, url, 1, 20*time.Millisecond)
	tt.awaitStatus("shop", 10*time.Second, "four decisions", func(st e2eStatus) bool {
		return st.Policy != nil && st.Policy.Decisions >= 4
	})
	l.stop()
	st := tt.status("shop")
	if st.Policy.Phase == "promoted" || st.Routes[1].Weight != "10%" || !strings.Contains(st.Policy.Last.Reason, "not enough data") {
		t.Fatalf("with too little traffic: phase %s, canary at %s, last %+v", st.Policy.Phase, st.Routes[1].Weight, st.Policy.Last)
	}
}

func TestCanaryLatencyCheckFails(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	canary.delay.Store(int64(300 * time.Millisecond))
	tt, url := startCanary(t, stable, canary, `  interval: 1s
  steps: [50, 80]
  threshold: 1
  min_requests: 3
  max_p99: 200ms
`)
	startPolicyLoad(t, url, 8, 10*time.Millisecond)
	out, code := tt.cli("gateway", "status", "shop", "--wait", "--wait-timeout", "30s")
	if code != 1 || !strings.Contains(out, "rolled-back") {
		t.Fatalf("status --wait: exit %d\n%s", code, out)
	}
	if h := tt.history(); !strings.Contains(h, "p99") {
		t.Errorf("the rollback does not name the latency:\n%s", h)
	}
}

func TestCanaryPromotionGateHoldsUntilItAccepts(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	var accept atomic.Bool
	var asked atomic.Int64
	gate := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if !accept.Load() {
			w.WriteHeader(http.StatusForbidden)
		}
	}))

	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	tt, url := startCanary(t, stable, canary, fmt.Sprintf(`  interval: 300ms
  steps: [20, 50]
  threshold: 3
  min_requests: 2
  webhooks:
    - name: release-manager
      type: confirm-promotion
      url: http://%s/promote
      timeout: 2s
`, gate))
	startPolicyLoad(t, url, 4, 5*time.Millisecond)
	testnet.Eventually(t, 15*time.Second, "the gate asked three times", func() bool { return asked.Load() >= 3 })
	st := tt.status("shop")
	if st.Policy.Phase == "promoted" || st.Routes[1].Weight != "50%" {
		t.Fatalf("the refused gate let it through: phase %s, canary %s", st.Policy.Phase, st.Routes[1].Weight)
	}
	accept.Store(true)
	out, code := tt.cli("gateway", "status", "shop", "--wait", "--wait-timeout", "30s")
	if code != 0 {
		t.Fatalf("after the gate accepted: exit %d\n%s", code, out)
	}
}

func TestBlueGreenPreviewPromoteAndAbort(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	blue, green := newBackend(t, "blue"), newBackend(t, "green")
	port := testnet.FreePort(t)
	tt := start(t, fmt.Sprintf(`name: shop
port: %d/http
routes:
  "[%s]":
    weight: 100%%
  "[%s]":
    weight: 0%%
    condition: "header X-Preview == yes"
policy:
  type: bluegreen
  interval: 300ms
  active: "[%s]"
  preview: "[%s]"
  min_requests: 3
`, port, blue.addr, green.addr, blue.addr, green.addr))
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	got := split(t, url, 200, 4, http.Header{"X-Preview": {"yes"}})
	if got["green"] != 200 {
		t.Fatalf("preview traffic: %v", got)
	}
	if got := split(t, url, 200, 4, nil); got["blue"] != 200 {
		t.Fatalf("normal traffic: %v", got)
	}
	l := startPolicyLoad(t, url, 4, 5*time.Millisecond)
	revs := strings.Count(tt.history(), "\n")
	if out, code := tt.cli("gateway", "promote", "shop"); code != 0 {
		t.Fatalf("promote: %d %s", code, out)
	}
	tt.awaitStatus("shop", 5*time.Second, "green has all traffic", func(st e2eStatus) bool {
		return st.Routes[1].Effective == "100%"
	})
	// One swap: one new gateway revision, from 100/0 straight to 0/100.
	h := tt.history()
	if n := strings.Count(h, "\n") - revs; n != 1 || !strings.Contains(h, "policy bluegreen: promote:") {
		t.Errorf("%d revisions for the switch, want 1:\n%s", n, h)
	}
	if out, code := tt.cli("gateway", "abort", "shop"); code != 0 {
		t.Fatalf("abort: %d %s", code, out)
	}
	tt.awaitStatus("shop", 5*time.Second, "blue has all traffic again", func(st e2eStatus) bool {
		return st.Routes[0].Effective == "100%" && st.Routes[1].Effective == "0%"
	})
	l.stop()
	if l.failed.Load() != 0 {
		t.Errorf("%d requests failed across the switches", l.failed.Load())
	}
}

func TestRestartMidRolloutResumesAtTheSameStep(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	port := testnet.FreePort(t)
	data := t.TempDir()
	file := filepath.Join(t.TempDir(), "gateways.yaml")
	gw := canaryGateway(port, stable, canary, `  interval: 1s
  steps: [10, 20, 30, 40, 50]
  threshold: 2
  min_requests: 2
`)
	if err := os.WriteFile(file, []byte(gw), 0o644); err != nil {
		t.Fatal(err)
	}
	tt := run(t, "-f", file, "--data-dir", data)
	startPolicyLoad(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 4, 5*time.Millisecond)
	// At least: on a loaded machine the steps, a second apart, can outrun
	// the polls.
	tt.awaitStatus("shop", 15*time.Second, "the canary at 20% or more", func(st e2eStatus) bool { return percent(st.Routes[1].Weight) >= 20 })
	tt.cmd.Process.Signal(syscall.SIGTERM)
	tt.cmd.Wait()

	// The same file, the same store: the rollout goes on from where it
	// was, neither back to 0% (the file's weights) nor from the first step.
	tt2 := run(t, "-f", file, "--data-dir", data)
	st := tt2.status("shop")
	at := percent(st.Routes[1].Weight)
	if at < 20 {
		t.Fatalf("after the restart the canary is at %s, want where it was before (20%% or more)", st.Routes[1].Weight)
	}
	if at < 50 {
		tt2.awaitStatus("shop", 15*time.Second, "the next steps", func(st e2eStatus) bool { return percent(st.Routes[1].Weight) > at })
	}
	if h := tt2.history(); strings.Count(h, "→ 10%") > 1 || strings.Count(h, "canary to 10") > 1 {
		t.Errorf("the rollout started over:\n%s", h)
	}
}

// status --wait's exit codes: 4 when --wait-timeout passes with the
// rollout still going, 3 when the server was never reached, 1 when the
// rollout was rolled back, 0 when promoted; and a restart of the server
// (same admin port, same data dir) while it waits is ridden out.
func TestStatusWaitExitCodesAndServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	settings := "  interval: 1h\n  steps: [10, 50]\n"
	doc := canaryGateway(testnet.FreePort(t), stable, canary, settings) + "---\n" +
		strings.Replace(canaryGateway(testnet.FreePort(t), stable, canary, settings), "name: shop", "name: other", 1)
	file := filepath.Join(t.TempDir(), "gateways.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	tt := run(t, "-f", file, "--data-dir", data)
	for _, name := range []string{"shop", "other"} {
		tt.awaitStatus(name, 10*time.Second, name+"'s first step", func(st e2eStatus) bool { return st.Policy != nil && st.Policy.Decisions >= 1 })
	}

	out, code := tt.cli("gateway", "status", "shop", "--wait", "--wait-timeout", "1s")
	if code != 4 || !strings.Contains(out, `turnout: gateway "shop": still progressing after --wait-timeout 1s`) {
		t.Errorf("timed out: exit %d, want 4\n%s", code, out)
	}
	closed := fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t))
	out, code = turnoutCLI(t, "gateway", "status", "shop", "--wait", "--wait-timeout", "1s", "--addr", closed)
	if code != 3 || !strings.Contains(out, "cannot reach turnout") {
		t.Errorf("never reached: exit %d, want 3\n%s", code, out)
	}
	if out, code := tt.cli("gateway", "abort", "other"); code != 0 {
		t.Fatalf("abort: exit %d %s", code, out)
	}
	out, code = tt.cli("gateway", "status", "other", "--wait", "--wait-timeout", "10s")
	if code != 1 || !strings.Contains(out, "the rollout ended rolled-back") {
		t.Errorf("rolled back: exit %d, want 1\n%s", code, out)
	}

	// A CI job waits on shop while turnout restarts. It goes through a
	// proxy that counts its polls, so that the test knows when it has
	// polled the running server, and when it found none.
	var answered, refused atomic.Int64
	target := &url.URL{Scheme: "http", Host: tt.admin}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(*http.Response) error { answered.Add(1); return nil }
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
		refused.Add(1)
		w.WriteHeader(http.StatusBadGateway) // what a proxy before a restarting turnout answers
	}
	via := serveHTTP(t, proxy).String()
	type result struct {
		out  string
		code int
	}
	done := make(chan result, 1)
	var waiterOut testnet.Buffer
	go func() {
		cmd := exec.Command(binary, "gateway", "status", "shop", "--wait", "--wait-timeout", "60s", "--addr", via)
		cmd.Stdout, cmd.Stderr = &waiterOut, &waiterOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		done <- result{waiterOut.String(), code}
	}()
	testnet.Eventually(t, 10*time.Second, "status --wait to poll the running server", func() bool { return answered.Load() > 0 })
	tt.stop()
	testnet.Eventually(t, 20*time.Second, "status --wait to find no server and say it retries", func() bool {
		return refused.Load() > 0 && strings.Contains(waiterOut.String(), "retrying until --wait-timeout")
	})
	select {
	case r := <-done:
		t.Fatalf("status --wait gave up while the server was down: exit %d\n%s", r.code, r.out)
	default:
	}
	tt = runAt(t, tt.admin, "-f", file, "--data-dir", data)
	if out, code := tt.cli("gateway", "promote", "shop"); code != 0 {
		t.Fatalf("promote: exit %d %s", code, out)
	}
	select {
	case r := <-done:
		if r.code != 0 || !strings.Contains(r.out, "promoted") {
			t.Fatalf("status --wait across a restart: exit %d, want 0\n%s", r.code, r.out)
		}
		// Its progress, a line per move, before and after the restart.
		if !strings.Contains(r.out, "  shop  progressing  step ") || !strings.Contains(r.out, "  shop  promoted  step ") {
			t.Fatalf("status --wait printed no progress:\n%s", r.out)
		}
		t.Logf("status --wait across a restart:\n%s", r.out)
	case <-time.After(30 * time.Second):
		t.Fatal("status --wait did not end after the promotion")
	}
}

// abort when there is nothing to abort is refused (exit 1) with what to
// do instead, and changes nothing.
func TestAbortAfterTheEndIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	tt := startWaitingCanary(t)
	cli := func(wantCode int, want string, args ...string) { t.Helper(); tt.expectCLI(wantCode, want, args...) }

	cli(0, "shop: promote requested\n", "gateway", "promote", "shop")
	cli(0, "promoted", "gateway", "status", "shop", "--wait", "--wait-timeout", "10s")
	cli(1, "turnout: nothing to abort: the rollout of gateway shop was promoted at revision 3; use `turnout gateway rollback shop --to 2` or `turnout gateway update shop --weights`\n", "gateway", "abort", "shop")
	cli(1, "turnout: nothing to pause: the rollout of gateway shop was promoted at revision 3\n", "gateway", "pause", "shop")
	if st := tt.status("shop"); st.Routes[1].Weight != "100%" || st.Policy.Phase != "promoted" {
		t.Fatalf("the refused abort changed the gateway: %+v", st)
	}
	// What the refusal proposes works.
	cli(0, "gateway/shop rolled back to revision 2", "gateway", "rollback", "shop", "--to", "2")
	tt.awaitStatus("shop", 10*time.Second, "revision 2's weights", func(st e2eStatus) bool { return st.Routes[1].Weight == "10%" })
}

// abort after a rollback: nothing to abort either.
func TestAbortAfterARollbackIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	tt := startWaitingCanary(t)
	if out, code := tt.cli("gateway", "abort", "shop"); code != 0 || out != "shop: abort requested\n" {
		t.Fatalf("abort: exit %d %q", code, out)
	}
	tt.awaitStatus("shop", 10*time.Second, "rolled back", func(st e2eStatus) bool { return st.Policy.Phase == "rolled-back" })
	want := "turnout: nothing to abort: the rollout of gateway shop was rolled back at revision 3; `turnout gateway retry shop` starts it again\n"
	if out, code := tt.cli("gateway", "abort", "shop"); code != 1 || out != want {
		t.Fatalf("abort after the rollback: exit %d %q, want 1 %q", code, out, want)
	}
}

// retry starts a rolled-back rollout again from its first step, as a new
// revision saying so; it is refused while the rollout runs and after a
// promotion.
func TestRetryRestartsARolledBackRollout(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	tt := startWaitingCanary(t)
	cli := func(wantCode int, want string, args ...string) { t.Helper(); tt.expectCLI(wantCode, want, args...) }

	cli(1, "turnout: nothing to retry: the rollout of gateway shop is still going (progressing); `turnout gateway abort shop` rolls it back\n", "gateway", "retry", "shop")
	cli(0, "shop: abort requested\n", "gateway", "abort", "shop")
	cli(1, "the rollout ended rolled-back", "gateway", "status", "shop", "--wait", "--wait-timeout", "10s")

	cli(0, "shop: retry requested\n", "gateway", "retry", "shop")
	tt.awaitStatus("shop", 10*time.Second, "the first step again", func(st e2eStatus) bool {
		return st.Policy.Phase == "progressing" && st.Routes[1].Weight == "10%"
	})
	if h := tt.history(); !strings.Contains(h, "policy canary: step: step 1/2 → 10%: the rollout starts; retry 1 by an operator after rolled-back") {
		t.Errorf("the retry's revision has no reason saying so:\n%s", h)
	}

	cli(0, "shop: promote requested\n", "gateway", "promote", "shop")
	cli(0, "promoted", "gateway", "status", "shop", "--wait", "--wait-timeout", "10s")
	cli(1, "turnout: nothing to retry: the rollout of gateway shop was promoted at revision 5; a changed policy section starts another\n", "gateway", "retry", "shop")
}

// startWaitingCanary starts a canary that has taken its first step (10%)
// and waits an hour for the next: only an operator's command moves it.
func startWaitingCanary(t *testing.T) *turnout {
	t.Helper()
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	tt, _ := startCanary(t, stable, canary, "  interval: 1h\n  steps: [10, 50]\n")
	tt.awaitStatus("shop", 10*time.Second, "the first step", func(st e2eStatus) bool { return st.Routes[1].Weight == "10%" })
	return tt
}

// expectCLI runs the CLI against tt and fails the test unless it exits
// with wantCode and prints want (on stdout or stderr).
func (tt *turnout) expectCLI(wantCode int, want string, args ...string) {
	tt.t.Helper()
	var out, errb bytes.Buffer
	code := runTurnout(tt.t, nil, &out, &errb, append(args, "--addr", tt.admin)...)
	if code != wantCode || !strings.Contains(out.String()+errb.String(), want) {
		tt.t.Fatalf("turnout %s: exit %d, want %d and %q\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, want, out.String(), errb.String())
	}
}
