package canary

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnout/turnout/plugins/sdk"
)

const (
	stable = "marathon:/shop-1.0"
	canary = "marathon:/shop-1.1"
)

// sim plays the core: it feeds each decision's State back, applies the
// weights (clamping Step decisions to maxStep, as the core does) and
// makes the canary's window.
type sim struct {
	t       *testing.T
	p       sdk.Policy
	config  string
	state   json.RawMessage
	weights map[string]int
	// others are routes besides stable and canary, with their weights.
	others  map[string]int
	maxStep int
	ready   bool
	now     time.Time
}

func newSim(t *testing.T, config string) *sim {
	t.Helper()
	s := &sim{t: t, p: New(), config: config, ready: true, maxStep: 10000,
		weights: map[string]int{stable: 10000, canary: 0}, now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := s.p.ValidateConfig(context.Background(), json.RawMessage(config), s.routes()); err != nil {
		t.Fatalf("ValidateConfig: %v", err)
	}
	return s
}

func (s *sim) routes() []string {
	out := []string{stable, canary}
	for r := range s.others {
		out = append(out, r)
	}
	return out
}

// decide runs one decision on a canary window.
func (s *sim) decide(win sdk.RouteMetrics, cmd sdk.Command) sdk.Decision {
	s.t.Helper()
	s.now = s.now.Add(30 * time.Second)
	win.Route, win.Weight, win.Ready = canary, s.weights[canary], s.ready
	in := sdk.Input{Gateway: "shop", Config: json.RawMessage(s.config), State: s.state, Now: s.now,
		Window: 30 * time.Second, Command: cmd,
		Routes: []sdk.RouteMetrics{healthy(1000), win}}
	in.Routes[0].Route, in.Routes[0].Weight, in.Routes[0].Ready = stable, s.weights[stable], true
	for r, w := range s.others {
		in.Routes = append(in.Routes, sdk.RouteMetrics{Route: r, Weight: w, Ready: true})
	}
	d, err := s.p.Decide(context.Background(), in)
	if err != nil {
		s.t.Fatalf("Decide: %v", err)
	}
	if d.Reason == "" || d.Phase == "" || !json.Valid(d.State) {
		s.t.Fatalf("Decide: incomplete decision %+v", d)
	}
	s.state = d.State
	if d.Weights != nil {
		sum := 0
		for _, w := range d.Weights {
			sum += w
		}
		for _, w := range s.others {
			sum += w
		}
		if sum != 10000 {
			s.t.Fatalf("weights %v sum to %d", d.Weights, sum)
		}
		next := d.Weights[canary]
		if d.Action == sdk.Step {
			cur := s.weights[canary]
			next = max(cur-s.maxStep, min(cur+s.maxStep, next))
		}
		s.weights[stable] += s.weights[canary] - next
		s.weights[canary] = next
	}
	return d
}

func (s *sim) st() state {
	var st state
	if err := json.Unmarshal(s.state, &st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

func healthy(n uint64) sdk.RouteMetrics {
	m := sdk.RouteMetrics{Requests: n, P50: 3 * time.Millisecond, P90: 8 * time.Millisecond, P99: 12 * time.Millisecond}
	m.Responses[1] = n
	return m
}

// failing has pct percent of 500s.
func failing(n uint64, pct uint64) sdk.RouteMetrics {
	m := healthy(n)
	m.Responses[4] = n * pct / 100
	m.Responses[1] = n - m.Responses[4]
	return m
}

func slow(n uint64, p99 time.Duration) sdk.RouteMetrics {
	m := healthy(n)
	m.P99 = p99
	return m
}

type want struct {
	action sdk.Action
	phase  string
	canary int // percent; -1: do not check
	reason string
}

func (s *sim) expect(i int, d sdk.Decision, w want) {
	s.t.Helper()
	if d.Action != w.action || d.Phase != w.phase {
		s.t.Errorf("#%d: %s/%s, want %s/%s (%s)", i, d.Action, d.Phase, w.action, w.phase, d.Reason)
	}
	if w.canary >= 0 && s.weights[canary] != w.canary*100 {
		s.t.Errorf("#%d: canary at %d bp, want %d%%", i, s.weights[canary], w.canary)
	}
	if w.reason != "" && d.Reason != w.reason {
		s.t.Errorf("#%d: reason\n  %s\nwant\n  %s", i, d.Reason, w.reason)
	}
}

const base = `{"type": "canary", "interval": "30s", "stable": "marathon:/shop-1.0", "canary": "marathon:/shop-1.1"`

func TestHealthyCanaryIsPromotedThroughEveryStep(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config string
		steps  []int
	}{
		{"steps", base + `, "steps": [1, 5, 10, 25, 50], "min_requests": 20}`, []int{1, 5, 10, 25, 50}},
		{"steps as text", base + `, "steps": ["1%", "5%", 10, "25", 50], "max_error_rate": "1%"}`, []int{1, 5, 10, 25, 50}},
		{"step and max_weight", base + `, "step": 15, "max_weight": 50}`, []int{15, 30, 45, 50}},
		{"step, default max_weight", base + `, "step": 25}`, []int{25, 50}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, tc.config)
			n := len(tc.steps)
			d := s.decide(healthy(0), "")
			s.expect(0, d, want{sdk.Step, PhaseProgressing, tc.steps[0], ""})
			for i := 1; i < n; i++ {
				d = s.decide(healthy(312), "")
				s.expect(i, d, want{sdk.Step, PhaseProgressing, tc.steps[i], ""})
			}
			d = s.decide(healthy(312), "")
			s.expect(n, d, want{sdk.Promote, PhasePromoted, 100, ""})
			if s.weights[stable] != 0 {
				t.Errorf("stable at %d after promotion", s.weights[stable])
			}
			// Asked again, it holds.
			d = s.decide(healthy(312), "")
			s.expect(n+1, d, want{sdk.Hold, PhasePromoted, 100, "the rollout is over (promoted); a changed policy section starts another"})
			if d.Weights != nil {
				t.Errorf("weights %v after the end", d.Weights)
			}
		})
	}
}

func TestReasonsStateTheFigures(t *testing.T) {
	s := newSim(t, base+`, "steps": [1, 5, 10, 25, 50], "threshold": 3, "min_requests": 20}`)
	for i, w := range []struct {
		win sdk.RouteMetrics
		want
	}{
		{healthy(0), want{sdk.Step, PhaseProgressing, 1, "step 1/5 → 1%: the rollout starts"}},
		{healthy(312), want{sdk.Step, PhaseProgressing, 5, "step 2/5 → 5%: canary error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 312 requests"}},
		{healthy(312), want{sdk.Step, PhaseProgressing, 10, "step 3/5 → 10%: canary error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 312 requests"}},
		{failing(402, 20), want{sdk.Hold, PhaseProgressing, 10, "check failed (1/3): canary error rate 19.90% > 1% (402 requests)"}},
		{healthy(12), want{sdk.Hold, PhaseProgressing, 10, "not enough data: 12 canary requests < 20 needed; holding at 10%"}},
		{slow(100, 600*time.Millisecond), want{sdk.Hold, PhaseProgressing, 10, "check failed (2/3): canary p99 600ms > 500ms (100 requests)"}},
		{healthy(312), want{sdk.Step, PhaseProgressing, 25, "step 4/5 → 25%: canary error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 312 requests"}},
		{healthy(312), want{sdk.Step, PhaseProgressing, 50, ""}},
		{healthy(1000), want{sdk.Promote, PhasePromoted, 100, "promoted after step 5/5 (50%): canary error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 1000 requests"}},
	} {
		d := s.decide(w.win, "")
		s.expect(i, d, w.want)
	}
}

func TestChecks(t *testing.T) {
	s := newSim(t, base+`, "steps": [10, 50], "threshold": 5, "min_requests": 20, "max_error_rate": 1, "max_p99": "200ms"}`)
	s.decide(healthy(0), "")
	m := failing(400, 20)
	m.P99 = 300 * time.Millisecond
	d := s.decide(m, "")
	want := []sdk.Check{
		{Name: "requests", Route: canary, Value: 400, Limit: 20, Passed: true, Detail: "400 requests ≥ 20"},
		{Name: "error-rate", Route: canary, Value: 20, Limit: 1, Passed: false, Detail: "error rate 20.00% > 1% (80 of 400 failed)"},
		{Name: "p99", Route: canary, Value: 300, Limit: 200, Passed: false, Detail: "p99 300ms > 200ms"},
	}
	if len(d.Checks) != len(want) {
		t.Fatalf("checks %+v", d.Checks)
	}
	for i := range want {
		if d.Checks[i] != want[i] {
			t.Errorf("check %d: %+v, want %+v", i, d.Checks[i], want[i])
		}
	}
	if d.Reason != "check failed (1/5): canary error rate 20.00% > 1%, p99 300ms > 200ms (400 requests)" {
		t.Errorf("reason %q", d.Reason)
	}
	d = s.decide(healthy(3), "")
	if len(d.Checks) != 1 || d.Checks[0].Passed || d.Checks[0].Detail != "not enough data: 3 requests < 20" {
		t.Errorf("not enough data: checks %+v", d.Checks)
	}
	// Timeouts and connection failures count as errors.
	m = healthy(200)
	m.Responses[1], m.Timeouts, m.ConnectErrors = 196, 2, 2
	d = s.decide(m, "")
	if d.Reason != "check failed (2/5): canary error rate 2.00% > 1% (200 requests)" {
		t.Errorf("reason %q", d.Reason)
	}
}

func TestFailingCanaryIsRolledBackAfterThreshold(t *testing.T) {
	for _, threshold := range []int{1, 3} {
		s := newSim(t, base+`, "steps": [1, 5, 10, 25, 50], "threshold": `+itoa(threshold)+`}`)
		s.decide(healthy(0), "")
		s.decide(healthy(100), "")
		for i := 1; i <= threshold; i++ {
			d := s.decide(failing(500, 20), "")
			if i < threshold {
				s.expect(i, d, want{sdk.Hold, PhaseProgressing, 5, "check failed (" + itoa(i) + "/" + itoa(threshold) + "): canary error rate 20.00% > 1% (500 requests)"})
				continue
			}
			var all []string
			for j := 1; j <= threshold; j++ {
				all = append(all, "check failed ("+itoa(j)+"/"+itoa(threshold)+"): canary error rate 20.00% > 1% (500 requests)")
			}
			s.expect(i, d, want{sdk.Rollback, PhaseRolledBack, 0, "rolled back: " + strings.Join(all, "; ")})
			if s.weights[stable] != 10000 {
				t.Errorf("stable at %d after rollback", s.weights[stable])
			}
		}
		d := s.decide(healthy(100), "")
		s.expect(99, d, want{sdk.Hold, PhaseRolledBack, 0, "the rollout is over (rolled-back); a changed policy section starts another"})
	}
}

func TestTooFewRequestsHolds(t *testing.T) {
	s := newSim(t, base+`, "steps": [10, 50], "min_requests": 20}`)
	s.decide(healthy(0), "")
	for i := range 5 {
		d := s.decide(failing(19, 100), "")
		s.expect(i, d, want{sdk.Hold, PhaseProgressing, 10, "not enough data: 19 canary requests < 20 needed; holding at 10%"})
	}
	if st := s.st(); st.FailedChecks != 0 || st.Step != 1 {
		t.Errorf("state %+v after holding for data", st)
	}
	s.expect(9, s.decide(healthy(20), ""), want{sdk.Step, PhaseProgressing, 50, ""})
}

func TestSlowCanaryFails(t *testing.T) {
	s := newSim(t, base+`, "steps": [10, 50], "threshold": 2, "max_p99": "200ms"}`)
	s.decide(healthy(0), "")
	s.expect(1, s.decide(slow(100, 300*time.Millisecond), ""), want{sdk.Hold, PhaseProgressing, 10, "check failed (1/2): canary p99 300ms > 200ms (100 requests)"})
	s.expect(2, s.decide(slow(100, 200*time.Millisecond), ""), want{sdk.Step, PhaseProgressing, 50, "step 2/2 → 50%: canary error rate 0.00% ≤ 1%, p99 200ms ≤ 200ms, 100 requests"})
	s.expect(3, s.decide(slow(100, 300*time.Millisecond), ""), want{sdk.Rollback, PhaseRolledBack, 0, "rolled back: check failed (1/2): canary p99 300ms > 200ms (100 requests); check failed (2/2): canary p99 300ms > 200ms (100 requests)"})
}

func TestCanaryNotReadyHolds(t *testing.T) {
	s := newSim(t, base+`, "steps": [10, 50]}`)
	s.ready = false
	s.expect(0, s.decide(healthy(0), ""), want{sdk.Hold, PhaseInitializing, 0, `canary not ready (route "marathon:/shop-1.1"); holding at 0%`})
	s.ready = true
	s.decide(healthy(0), "")
	s.ready = false
	s.expect(1, s.decide(failing(100, 100), ""), want{sdk.Hold, PhaseProgressing, 10, `canary not ready (route "marathon:/shop-1.1"); holding at 10%`})
	if st := s.st(); st.FailedChecks != 0 {
		t.Errorf("a canary not ready counted as a failure: %+v", st)
	}
}

// hook is a webhook receiver on 127.0.0.1 whose answer a test sets.
type hook struct {
	*httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	calls  []payload
}

func newHook(t *testing.T, status int) *hook {
	h := &hook{}
	h.status.Store(int32(status))
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p payload
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &p) != nil {
			t.Errorf("webhook: %s %s %q", r.Method, r.Header.Get("Content-Type"), body)
		}
		h.mu.Lock()
		h.calls = append(h.calls, p)
		h.mu.Unlock()
		code := int(h.status.Load())
		w.WriteHeader(code)
		if code >= 300 {
			io.WriteString(w, "not now\n")
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.calls)
}

func (h *hook) last() payload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[len(h.calls)-1]
}

func hookConfig(name, typ, url string, extra string) string {
	return `{"name": "` + name + `", "type": "` + typ + `", "url": "` + url + `"` + extra + `}`
}

func TestConfirmPromotionHoldsAtTheLastStep(t *testing.T) {
	h := newHook(t, http.StatusForbidden)
	s := newSim(t, base+`, "steps": [10, 50], "webhooks": [`+
		hookConfig("gate", HookConfirmPromotion, h.URL+"/gate", `, "metadata": {"ticket": "OPS-1", "retries": 2}`)+`]}`)
	s.decide(healthy(0), "")
	s.decide(healthy(100), "")
	if h.count() != 0 {
		t.Fatalf("confirm-promotion called before the last step passed")
	}
	for i := range 3 {
		d := s.decide(healthy(100), "")
		s.expect(i, d, want{sdk.Hold, PhaseWaitingPromotion, 50,
			"last step 2/2 (50%) passed: canary error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 100 requests; waiting for confirm-promotion: confirm-promotion webhook gate: HTTP 403: not now"})
		c := d.Checks[len(d.Checks)-1]
		if c.Name != "webhook:gate" || c.Passed || c.Value != 403 {
			t.Errorf("webhook check %+v", c)
		}
	}
	if h.count() != 3 {
		t.Errorf("confirm-promotion called %d times, want once per interval", h.count())
	}
	got := h.last()
	wantBody := payload{Name: "shop", Phase: PhaseWaitingPromotion, Webhook: "gate", Type: HookConfirmPromotion,
		Metadata: map[string]string{"ticket": "OPS-1", "retries": "2"}, Canary: canary, Weight: 50}
	if got.Name != wantBody.Name || got.Phase != wantBody.Phase || got.Webhook != wantBody.Webhook || got.Type != wantBody.Type ||
		got.Canary != wantBody.Canary || got.Weight != wantBody.Weight || len(got.Metadata) != 2 ||
		got.Metadata["ticket"] != "OPS-1" || got.Metadata["retries"] != "2" {
		t.Errorf("payload %+v, want %+v", got, wantBody)
	}
	// A failing check while waiting still counts.
	s.expect(4, s.decide(failing(100, 50), ""), want{sdk.Rollback, PhaseRolledBack, 0, ""})

	h.status.Store(http.StatusOK)
	s = newSim(t, s.config)
	s.decide(healthy(0), "")
	s.decide(healthy(100), "")
	d := s.decide(healthy(100), "")
	s.expect(5, d, want{sdk.Promote, PhasePromoted, 100,
		"promoted after step 2/2 (50%): canary error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 100 requests"})
}

func TestConfirmRolloutGatesTheStart(t *testing.T) {
	h := newHook(t, http.StatusServiceUnavailable)
	s := newSim(t, base+`, "steps": [10, 50], "webhooks": [`+hookConfig("go", HookConfirmRollout, h.URL, "")+`]}`)
	for i := range 2 {
		d := s.decide(healthy(0), "")
		s.expect(i, d, want{sdk.Hold, PhaseWaiting, 0, "waiting for confirm-rollout: confirm-rollout webhook go: HTTP 503: not now"})
		if d.Weights != nil {
			t.Errorf("weights %v while waiting", d.Weights)
		}
	}
	if st := s.st(); st.FailedChecks != 0 || st.RolloutConfirmed {
		t.Errorf("state %+v while waiting", st)
	}
	h.status.Store(http.StatusAccepted)
	s.expect(2, s.decide(healthy(0), ""), want{sdk.Step, PhaseProgressing, 10, "step 1/2 → 10%: the rollout starts"})
	if p := h.last(); p.Phase != PhaseWaiting || p.Weight != 0 {
		t.Errorf("payload %+v", p)
	}
	// Confirmed once is enough.
	h.status.Store(http.StatusForbidden)
	s.expect(3, s.decide(healthy(100), ""), want{sdk.Step, PhaseProgressing, 50, ""})
	if h.count() != 3 {
		t.Errorf("confirm-rollout called %d times, want 3", h.count())
	}
}

func TestPreRolloutFailureCounts(t *testing.T) {
	h := newHook(t, http.StatusInternalServerError)
	s := newSim(t, base+`, "steps": [10, 50], "threshold": 3, "webhooks": [`+hookConfig("load-test", HookPreRollout, h.URL, "")+`]}`)
	s.expect(0, s.decide(healthy(0), ""), want{sdk.Hold, PhaseInitializing, 0, "check failed (1/3): pre-rollout webhook load-test: HTTP 500: not now"})
	h.status.Store(http.StatusOK)
	s.expect(1, s.decide(healthy(0), ""), want{sdk.Step, PhaseProgressing, 10, "step 1/2 → 10%: the rollout starts: pre-rollout webhook load-test: HTTP 200"})
	if st := s.st(); st.FailedChecks != 1 || !st.PreRolloutDone {
		t.Errorf("state %+v", st)
	}
	// Failures so far count towards the threshold.
	s.decide(failing(100, 50), "")
	s.expect(3, s.decide(failing(100, 50), ""), want{sdk.Rollback, PhaseRolledBack, 0, ""})

	h.status.Store(http.StatusInternalServerError)
	s = newSim(t, strings.Replace(s.config, `"threshold": 3`, `"threshold": 2`, 1))
	s.decide(healthy(0), "")
	s.expect(4, s.decide(healthy(0), ""), want{sdk.Rollback, PhaseRolledBack, 0, "rolled back: check failed (1/2): pre-rollout webhook load-test: HTTP 500: not now; check failed (2/2): pre-rollout webhook load-test: HTTP 500: not now"})
}

func TestRollbackWebhookTriggers(t *testing.T) {
	h := newHook(t, http.StatusNotFound)
	post := newHook(t, http.StatusOK)
	s := newSim(t, base+`, "steps": [10, 50], "webhooks": [`+hookConfig("manual", HookRollback, h.URL, "")+`, `+
		hookConfig("notify", HookPostRollout, post.URL, "")+`]}`)
	s.decide(healthy(0), "")
	s.expect(1, s.decide(healthy(100), ""), want{sdk.Step, PhaseProgressing, 50, ""})
	h.status.Store(http.StatusOK)
	d := s.decide(healthy(100), "")
	s.expect(2, d, want{sdk.Rollback, PhaseRolledBack, 0, "rollback requested: rollback webhook manual: HTTP 200; post-rollout webhook notify: HTTP 200"})
	if post.count() != 1 {
		t.Fatalf("post-rollout called %d times", post.count())
	}
	if p := post.last(); p.Phase != PhaseRolledBack || p.Weight != 0 || p.Type != HookPostRollout {
		t.Errorf("post-rollout payload %+v", p)
	}
	names := []string{}
	for _, c := range d.Checks {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "webhook:manual,webhook:notify" {
		t.Errorf("checks %v", names)
	}
}

func TestPostRolloutDoesNotChangeTheOutcome(t *testing.T) {
	post := newHook(t, http.StatusBadGateway)
	s := newSim(t, base+`, "steps": [50], "webhooks": [`+hookConfig("notify", HookPostRollout, post.URL, "")+`]}`)
	s.decide(healthy(0), "")
	d := s.decide(healthy(100), "")
	s.expect(1, d, want{sdk.Promote, PhasePromoted, 100,
		"promoted after step 1/1 (50%): canary error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 100 requests; post-rollout webhook notify: HTTP 502: not now"})
	if p := post.last(); p.Phase != PhasePromoted || p.Weight != 100 {
		t.Errorf("post-rollout payload %+v", p)
	}
}

func TestWebhookTimeoutFails(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	s := newSim(t, base+`, "steps": [50], "webhooks": [`+hookConfig("slow", HookConfirmRollout, srv.URL, `, "timeout": "50ms"`)+`]}`)
	s.expect(0, s.decide(healthy(0), ""), want{sdk.Hold, PhaseWaiting, 0, "waiting for confirm-rollout: confirm-rollout webhook slow: no answer within 50ms"})
}

func TestCommands(t *testing.T) {
	gate := newHook(t, http.StatusForbidden)
	cfg := base + `, "steps": [10, 20, 50], "webhooks": [` + hookConfig("gate", HookConfirmPromotion, gate.URL, "") + `]}`
	for _, tc := range []struct {
		cmd sdk.Command
		want
	}{
		{sdk.CommandPromote, want{sdk.Promote, PhasePromoted, 100, "promoted by an operator (checks and gates skipped)"}},
		{sdk.CommandAbort, want{sdk.Rollback, PhaseRolledBack, 0, "aborted by an operator"}},
		{sdk.CommandPause, want{sdk.Hold, PhaseProgressing, 20, "pause is Turnout's to handle; holding at 20%"}},
		{sdk.CommandResume, want{sdk.Hold, PhaseProgressing, 20, "resume is Turnout's to handle; holding at 20%"}},
	} {
		t.Run(string(tc.cmd), func(t *testing.T) {
			s := newSim(t, cfg)
			s.decide(healthy(0), "")
			s.decide(healthy(100), "")
			// Commands win over failing checks and closed gates.
			s.expect(0, s.decide(failing(100, 90), tc.cmd), tc.want)
		})
	}
	// Before the rollout has started, too.
	s := newSim(t, cfg)
	s.expect(0, s.decide(healthy(0), sdk.CommandPromote), want{sdk.Promote, PhasePromoted, 100, ""})
	s.expect(1, s.decide(healthy(0), sdk.CommandAbort), want{sdk.Hold, PhasePromoted, 100, ""})
	if gate.count() != 0 {
		t.Errorf("a command called the confirm-promotion webhook")
	}
	in := sdk.Input{Config: json.RawMessage(cfg), Command: "restart",
		Routes: []sdk.RouteMetrics{{Route: stable, Weight: 10000}, {Route: canary}}}
	if _, err := New().Decide(context.Background(), in); err == nil || err.Error() != `canary: unknown command "restart"` {
		t.Errorf("unknown command: %v", err)
	}
}

func TestStateSurvivesARestart(t *testing.T) {
	cfg := base + `, "steps": [1, 5, 10, 25, 50], "threshold": 3}`
	s := newSim(t, cfg)
	s.decide(healthy(0), "")
	s.decide(healthy(100), "")
	s.decide(failing(100, 50), "")
	s.decide(healthy(100), "")
	stored := `{"phase":"progressing","step":3,"failed_checks":1,"rollout_confirmed":true,"pre_rollout_done":true,"failures":["check failed (1/3): canary error rate 50.00% > 1% (100 requests)"],"progress":"2025-01-01T00:02:00Z"}`
	if string(s.state) != stored {
		t.Fatalf("state %s, want %s", s.state, stored)
	}
	// A fresh plugin value (Turnout restarted) given the stored state
	// carries on from step 3.
	s.p = New()
	s.expect(0, s.decide(healthy(100), ""), want{sdk.Step, PhaseProgressing, 25, ""})
	s.p = New()
	s.decide(failing(100, 50), "")
	s.p = New()
	s.expect(1, s.decide(failing(100, 50), ""), want{sdk.Rollback, PhaseRolledBack, 0, "rolled back: check failed (1/3): canary error rate 50.00% > 1% (100 requests); check failed (2/3): canary error rate 50.00% > 1% (100 requests); check failed (3/3): canary error rate 50.00% > 1% (100 requests)"})
}

func TestRollbackReasonKeepsTheLastFailures(t *testing.T) {
	s := newSim(t, base+`, "steps": [10, 50], "threshold": 7, "min_requests": 1}`)
	s.decide(healthy(0), "")
	var d sdk.Decision
	for i := 1; i <= 7; i++ {
		d = s.decide(failing(uint64(i*100), 50), "")
	}
	reason := "rolled back: ...; check failed (3/7): canary error rate 50.00% > 1% (300 requests); check failed (4/7): canary error rate 50.00% > 1% (400 requests); " +
		"check failed (5/7): canary error rate 50.00% > 1% (500 requests); check failed (6/7): canary error rate 50.00% > 1% (600 requests); check failed (7/7): canary error rate 50.00% > 1% (700 requests)"
	s.expect(0, d, want{sdk.Rollback, PhaseRolledBack, 0, reason})
}

func TestStepsClampedByMaxStepAreFinished(t *testing.T) {
	s := newSim(t, base+`, "steps": [10, 40], "max_step": 20}`)
	s.maxStep = 2000
	s.decide(healthy(0), "")
	s.expect(1, s.decide(healthy(100), ""), want{sdk.Step, PhaseProgressing, 30, "step 2/2 → 40%: canary error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 100 requests"})
	s.expect(2, s.decide(healthy(100), ""), want{sdk.Step, PhaseProgressing, 40, "step 2/2 → 40% (still at 30%): canary error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 100 requests"})
	s.expect(3, s.decide(healthy(100), ""), want{sdk.Promote, PhasePromoted, 100, ""})
}

func TestOtherRoutesKeepTheirWeight(t *testing.T) {
	s := newSim(t, base+`, "steps": [50, 95]}`)
	s.others = map[string]int{"[10.0.0.9:80]": 1000}
	s.weights[stable] = 9000
	s.decide(healthy(0), "")
	if s.weights[canary] != 5000 || s.weights[stable] != 4000 {
		t.Errorf("weights %v", s.weights)
	}
	s.decide(healthy(100), "")
	if s.weights[canary] != 9000 || s.weights[stable] != 0 {
		t.Errorf("weights %v", s.weights)
	}
	d := s.decide(healthy(100), "")
	if d.Action != sdk.Promote || s.weights[canary] != 9000 {
		t.Errorf("%s, weights %v", d.Action, s.weights)
	}
}

func TestMissingRouteIsAnError(t *testing.T) {
	in := sdk.Input{Config: json.RawMessage(base + `, "steps": [10]}`), Routes: []sdk.RouteMetrics{{Route: stable, Weight: 10000}}}
	if _, err := New().Decide(context.Background(), in); err == nil || err.Error() != `canary: canary route "marathon:/shop-1.1" is not among the gateway's routes` {
		t.Errorf("err %v", err)
	}
	in.State = json.RawMessage(`{"phase": 3}`)
	if _, err := New().Decide(context.Background(), in); err == nil || !strings.HasPrefix(err.Error(), "canary: state: ") {
		t.Errorf("err %v", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// progress_deadline: windows too short of traffic to be judged hold the
// rollout only until the deadline after the last progress; a judged
// window is progress and restarts the clock. Each decision is 30s on.
func TestProgressDeadlineRollsBackAStarvedRollout(t *testing.T) {
	s := newSim(t, base+`, "steps": [10, 50], "min_requests": 50, "progress_deadline": "90s"}`)
	s.expect(0, s.decide(healthy(0), ""), want{sdk.Step, PhaseProgressing, 10, ""})   // t=30s: the first step
	s.expect(1, s.decide(healthy(3), ""), want{sdk.Hold, PhaseProgressing, 10, ""})   // 60s
	s.expect(2, s.decide(healthy(3), ""), want{sdk.Hold, PhaseProgressing, 10, ""})   // 90s
	s.expect(3, s.decide(healthy(100), ""), want{sdk.Step, PhaseProgressing, 50, ""}) // 120s: judged, the next step
	s.expect(4, s.decide(healthy(3), ""), want{sdk.Hold, PhaseProgressing, 50, ""})   // 150s
	s.expect(5, s.decide(healthy(3), ""), want{sdk.Hold, PhaseProgressing, 50, ""})   // 180s
	d := s.decide(healthy(3), "")                                                     // 210s: 90s since 120s
	s.expect(6, d, want{sdk.Rollback, PhaseRolledBack, 0, ""})
	if want := "rolled back: no progress for progress_deadline 1m30s: not enough data: 3 canary requests < 50 needed since 2025-01-01T00:02:00Z"; d.Reason != want {
		t.Errorf("reason %q, want %q", d.Reason, want)
	}
	if err := New().ValidateConfig(context.Background(), json.RawMessage(base+`, "steps": [10], "progress_deadline": "0s"}`), nil); err == nil ||
		err.Error() != `canary: progress_deadline: must be above 0, got "0s"` {
		t.Errorf("progress_deadline 0: %v", err)
	}
}
