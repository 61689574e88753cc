package bluegreen

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/turnout/turnout/plugins/sdk"
	"github.com/turnout/turnout/plugins/sdk/sdktest"
)

const (
	active  = "[10.0.0.1:80]"
	preview = "[10.0.0.2:80]"
	base    = `{"type": "bluegreen", "interval": "10s", "active": "[10.0.0.1:80]", "preview": "[10.0.0.2:80]"`
)

// sim plays the core: it feeds each decision's State back and applies
// the weights.
type sim struct {
	t       *testing.T
	p       sdk.Policy
	config  string
	state   json.RawMessage
	weights map[string]int
	ready   bool
}

func newSim(t *testing.T, config string) *sim {
	t.Helper()
	s := &sim{t: t, p: New(), config: config, ready: true, weights: map[string]int{active: 10000, preview: 0}}
	if err := s.p.ValidateConfig(context.Background(), json.RawMessage(config), []string{active, preview}); err != nil {
		t.Fatalf("ValidateConfig: %v", err)
	}
	return s
}

func (s *sim) decide(win sdk.RouteMetrics, cmd sdk.Command) sdk.Decision {
	s.t.Helper()
	win.Route, win.Weight, win.Ready = preview, s.weights[preview], s.ready
	blue := healthy(1000)
	blue.Route, blue.Weight, blue.Ready = active, s.weights[active], true
	d, err := s.p.Decide(context.Background(), sdk.Input{Gateway: "shop", Config: json.RawMessage(s.config),
		State: s.state, Now: time.Now(), Window: 10 * time.Second, Command: cmd, Routes: []sdk.RouteMetrics{blue, win}})
	if err != nil {
		s.t.Fatalf("Decide: %v", err)
	}
	if d.Reason == "" || d.Phase == "" || !json.Valid(d.State) {
		s.t.Fatalf("Decide: incomplete decision %+v", d)
	}
	s.state = d.State
	if d.Weights != nil {
		if d.Weights[active]+d.Weights[preview] != 10000 {
			s.t.Fatalf("weights %v", d.Weights)
		}
		s.weights[active], s.weights[preview] = d.Weights[active], d.Weights[preview]
	}
	return d
}

type want struct {
	action  sdk.Action
	phase   string
	preview int // percent
	reason  string
}

func (s *sim) expect(i int, d sdk.Decision, w want) {
	s.t.Helper()
	if d.Action != w.action || d.Phase != w.phase {
		s.t.Errorf("#%d: %s/%s, want %s/%s (%s)", i, d.Action, d.Phase, w.action, w.phase, d.Reason)
	}
	if s.weights[preview] != w.preview*100 || s.weights[active] != 10000-w.preview*100 {
		s.t.Errorf("#%d: weights %v, want preview at %d%%", i, s.weights, w.preview)
	}
	if w.reason != "" && d.Reason != w.reason {
		s.t.Errorf("#%d: reason\n  %s\nwant\n  %s", i, d.Reason, w.reason)
	}
}

func healthy(n uint64) sdk.RouteMetrics {
	m := sdk.RouteMetrics{Requests: n, P99: 12 * time.Millisecond}
	m.Responses[1] = n
	return m
}

func failing(n, pct uint64) sdk.RouteMetrics {
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

func TestAutoPromoteAfterPasses(t *testing.T) {
	s := newSim(t, base+`, "auto_promote": true, "passes": 3, "threshold": 3, "min_requests": 10, "max_p99": "200ms"}`)
	for i, step := range []struct {
		win sdk.RouteMetrics
		want
	}{
		{healthy(50), want{sdk.Hold, PhasePreviewing, 0, "checks passed (1/3): preview error rate 0.00% ≤ 1%, p99 12ms ≤ 200ms, 50 requests"}},
		{healthy(3), want{sdk.Hold, PhasePreviewing, 0, "not enough data: 3 preview requests < 10 needed"}},
		{healthy(50), want{sdk.Hold, PhasePreviewing, 0, "checks passed (2/3): preview error rate 0.00% ≤ 1%, p99 12ms ≤ 200ms, 50 requests"}},
		// A failure starts the count of passes again.
		{slow(50, 300*time.Millisecond), want{sdk.Hold, PhasePreviewing, 0, "check failed (1/3): preview p99 300ms > 200ms (50 requests)"}},
		{healthy(50), want{sdk.Hold, PhasePreviewing, 0, "checks passed (1/3): preview error rate 0.00% ≤ 1%, p99 12ms ≤ 200ms, 50 requests"}},
		{healthy(50), want{sdk.Hold, PhasePreviewing, 0, ""}},
		{healthy(80), want{sdk.Promote, PhasePromoted, 100, "promoted after 3/3 passing checks: preview error rate 0.00% ≤ 1%, p99 12ms ≤ 200ms, 80 requests"}},
		{healthy(80), want{sdk.Hold, PhasePromoted, 100, `the rollout is over (promoted); a changed policy section starts another; abort switches back to "[10.0.0.1:80]"`}},
	} {
		s.expect(i, s.decide(step.win, ""), step.want)
	}
	want := `{"phase":"promoted","passes":3,"failed_checks":1}`
	if string(s.state) != want {
		t.Errorf("state %s, want %s", s.state, want)
	}
}

func TestDefaultPassesIsOne(t *testing.T) {
	s := newSim(t, base+`, "auto_promote": true}`)
	s.expect(0, s.decide(healthy(10), ""), want{sdk.Promote, PhasePromoted, 100, "promoted after 1/1 passing checks: preview error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 10 requests"})
}

func TestWithoutAutoPromoteWaitsForTheCommand(t *testing.T) {
	s := newSim(t, base+`, "passes": 2}`)
	for i := range 3 {
		s.expect(i, s.decide(healthy(100), ""), want{sdk.Hold, PhasePreviewing, 0,
			"checks passed: preview error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 100 requests; waiting for the promote command"})
	}
	s.expect(3, s.decide(healthy(100), sdk.CommandPromote), want{sdk.Promote, PhasePromoted, 100, "promoted by an operator (checks skipped)"})
}

func TestFailedChecksGiveUp(t *testing.T) {
	s := newSim(t, base+`, "auto_promote": true, "threshold": 2}`)
	s.expect(0, s.decide(failing(200, 10), ""), want{sdk.Hold, PhasePreviewing, 0, "check failed (1/2): preview error rate 10.00% > 1% (200 requests)"})
	d := s.decide(failing(200, 10), "")
	s.expect(1, d, want{sdk.Hold, PhaseFailed, 0, `gave up after 2/2 failed checks: preview error rate 10.00% > 1% (200 requests); "[10.0.0.1:80]" keeps the traffic`})
	if d.Weights != nil {
		t.Errorf("weights %v on giving up", d.Weights)
	}
	// Healthy windows no longer promote.
	s.expect(2, s.decide(healthy(200), ""), want{sdk.Hold, PhaseFailed, 0,
		`gave up after 2/2 failed checks; "[10.0.0.1:80]" keeps the traffic until an operator promotes or aborts`})
	// An operator still may.
	s.expect(3, s.decide(healthy(200), sdk.CommandPromote), want{sdk.Promote, PhasePromoted, 100, ""})
}

func TestPreviewNotReadyHolds(t *testing.T) {
	s := newSim(t, base+`, "auto_promote": true}`)
	s.ready = false
	s.expect(0, s.decide(failing(100, 100), ""), want{sdk.Hold, PhasePreviewing, 0, `preview not ready (route "[10.0.0.2:80]")`})
	s.ready = true
	s.expect(1, s.decide(healthy(100), ""), want{sdk.Promote, PhasePromoted, 100, ""})
}

func TestAbort(t *testing.T) {
	t.Run("before promotion", func(t *testing.T) {
		s := newSim(t, base+`}`)
		s.decide(healthy(100), "")
		s.expect(0, s.decide(healthy(100), sdk.CommandAbort), want{sdk.Rollback, PhaseAborted, 0, `aborted by an operator: all traffic stays on "[10.0.0.1:80]"`})
		s.expect(1, s.decide(healthy(100), sdk.CommandAbort), want{sdk.Hold, PhaseAborted, 0, "the rollout is over (aborted); a changed policy section starts another"})
		s.expect(2, s.decide(healthy(100), sdk.CommandPromote), want{sdk.Hold, PhaseAborted, 0, ""})
		s.expect(3, s.decide(healthy(100), ""), want{sdk.Hold, PhaseAborted, 0, ""})
	})
	t.Run("after promotion", func(t *testing.T) {
		s := newSim(t, base+`, "auto_promote": true}`)
		s.expect(0, s.decide(healthy(100), ""), want{sdk.Promote, PhasePromoted, 100, ""})
		s.expect(1, s.decide(healthy(100), sdk.CommandPromote), want{sdk.Hold, PhasePromoted, 100, ""})
		d := s.decide(failing(100, 50), sdk.CommandAbort)
		s.expect(2, d, want{sdk.Rollback, PhaseAborted, 0, `aborted by an operator after the promotion: all traffic back to "[10.0.0.1:80]"`})
		if d.Weights[active] != 10000 || d.Weights[preview] != 0 {
			t.Errorf("weights %v", d.Weights)
		}
	})
	t.Run("after giving up", func(t *testing.T) {
		s := newSim(t, base+`}`)
		s.expect(0, s.decide(failing(100, 50), ""), want{sdk.Hold, PhaseFailed, 0, ""})
		s.expect(1, s.decide(healthy(100), sdk.CommandAbort), want{sdk.Rollback, PhaseAborted, 0, ""})
	})
}

func TestPauseResumeHold(t *testing.T) {
	s := newSim(t, base+`, "auto_promote": true}`)
	for _, c := range []sdk.Command{sdk.CommandPause, sdk.CommandResume} {
		s.expect(0, s.decide(healthy(100), c), want{sdk.Hold, PhasePreviewing, 0, string(c) + " is Turnout's to handle; holding"})
	}
	in := sdk.Input{Config: json.RawMessage(base + `}`), Command: "restart",
		Routes: []sdk.RouteMetrics{{Route: active, Weight: 10000}, {Route: preview}}}
	if _, err := New().Decide(context.Background(), in); err == nil || err.Error() != `bluegreen: unknown command "restart"` {
		t.Errorf("unknown command: %v", err)
	}
}

func TestStateSurvivesARestart(t *testing.T) {
	s := newSim(t, base+`, "auto_promote": true, "passes": 3, "threshold": 2}`)
	s.decide(failing(100, 50), "")
	s.decide(healthy(100), "")
	s.decide(healthy(100), "")
	if want := `{"phase":"previewing","passes":2,"failed_checks":1}`; string(s.state) != want {
		t.Fatalf("state %s, want %s", s.state, want)
	}
	s.p = New()
	s.expect(0, s.decide(healthy(100), ""), want{sdk.Promote, PhasePromoted, 100, ""})
}

func TestOtherRoutesKeepTheirWeight(t *testing.T) {
	in := sdk.Input{Config: json.RawMessage(base + `}`), Command: sdk.CommandPromote, Routes: []sdk.RouteMetrics{
		{Route: active, Weight: 9000}, {Route: preview}, {Route: "[10.0.0.3:80]", Weight: 1000}}}
	d, err := New().Decide(context.Background(), in)
	if err != nil || d.Weights[preview] != 9000 || d.Weights[active] != 0 || len(d.Weights) != 2 {
		t.Errorf("%v %v", d.Weights, err)
	}
}

func TestValidateConfig(t *testing.T) {
	routes := []string{active, preview}
	for _, tc := range []struct{ name, config, err string }{
		{"minimal", base + `}`, ""},
		{"everything", base + `, "auto_promote": true, "passes": 2, "threshold": 3, "min_requests": 10, "max_error_rate": "0.5%", "max_p99": "500ms"}`, ""},
		{"not a mapping", `"x"`, "bluegreen: the policy section must be a mapping: json: cannot unmarshal string into Go value of type map[string]json.RawMessage"},
		{"unknown key", base + `, "steps": [10]}`, `bluegreen: unknown key "steps" in the policy section`},
		{"no active", `{"preview": "[10.0.0.2:80]"}`, "bluegreen: active is required: the route that has all the traffic now"},
		{"no preview", `{"active": "[10.0.0.1:80]"}`, "bluegreen: preview is required: the route of the new version"},
		{"same", `{"active": "[10.0.0.1:80]", "preview": "[10.0.0.1:80]"}`, `bluegreen: active and preview are the same route "[10.0.0.1:80]"`},
		{"not a route", `{"active": "[10.0.0.1:80]", "preview": "[10.0.0.3:80]"}`, `bluegreen: preview: "[10.0.0.3:80]" is not a route of the gateway (its routes: "[10.0.0.1:80]", "[10.0.0.2:80]")`},
		{"auto_promote", base + `, "auto_promote": "yes"}`, `bluegreen: auto_promote: must be true or false, got "yes"`},
		{"passes", base + `, "passes": 0}`, "bluegreen: passes: must be a whole number of at least 1, got 0"},
		{"threshold", base + `, "threshold": 0}`, "bluegreen: threshold: must be a whole number of at least 1, got 0"},
		{"min_requests", base + `, "min_requests": 1.5}`, "bluegreen: min_requests: must be a whole number of at least 1, got 1.5"},
		{"min_requests 0", base + `, "min_requests": 0}`, "bluegreen: min_requests: must be a whole number of at least 1, got 0: 0 would judge, and pass, a window in which the preview got no request at all"},
		{"max_error_rate", base + `, "max_error_rate": -1}`, "bluegreen: max_error_rate: must be a percentage from 0 to 100, got -1%"},
		{"max_p99", base + `, "max_p99": "soon"}`, `bluegreen: max_p99: want a duration like "500ms", got "soon"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := New().ValidateConfig(context.Background(), json.RawMessage(tc.config), routes)
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.err != "" && (err == nil || err.Error() != tc.err):
				t.Errorf("error\n  %v\nwant\n  %s", err, tc.err)
			}
		})
	}
}

func TestConfigure(t *testing.T) {
	if err := New().Configure(context.Background(), json.RawMessage(`{}`)); err != nil {
		t.Error(err)
	}
	if err := New().Configure(context.Background(), json.RawMessage(`{"passes": 2}`)); err == nil {
		t.Error("Configure took a setting")
	}
}

// The plugin passes the SDK's conformance kit over the real transport.
func TestConformance(t *testing.T) {
	routes := func(previewWeight int, win sdk.RouteMetrics) []sdk.RouteMetrics {
		win.Route, win.Weight, win.Ready = preview, previewWeight, true
		return []sdk.RouteMetrics{{Route: active, Weight: 10000 - previewWeight, Ready: true}, win}
	}
	sdktest.Policy(t, New(), sdktest.PolicyCase{
		Policy:    json.RawMessage(base + `, "auto_promote": true, "passes": 2}`),
		Routes:    []string{active, preview},
		BadPolicy: json.RawMessage(base + `, "passes": 0}`),
		Inputs: []sdk.Input{
			{Gateway: "shop", Routes: routes(0, healthy(100))},
			{Gateway: "shop", Routes: routes(0, healthy(100))},
			{Gateway: "shop", Command: sdk.CommandAbort, Routes: routes(10000, healthy(100))},
		},
	})
}

// post_promotion (Argo Rollouts' post-promotion analysis): the switch puts
// all traffic on the preview, which is judged again there; enough passing
// windows end the rollout promoted, failed ones switch back.
func TestPostPromotionVerifiesAfterTheSwitch(t *testing.T) {
	cfg := base + `, "auto_promote": true, "post_promotion": 2, "threshold": 2}`
	s := newSim(t, cfg)
	s.expect(0, s.decide(healthy(50), ""), want{sdk.Step, PhaseVerifying, 100,
		"promoted after 1/1 passing checks: preview error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 50 requests; switched, verifying 2 windows before the promotion"})
	s.expect(1, s.decide(healthy(500), ""), want{sdk.Hold, PhaseVerifying, 100,
		"checks passed after the switch (1/2): preview error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 500 requests"})
	s.expect(2, s.decide(healthy(500), ""), want{sdk.Promote, PhasePromoted, 100,
		"promoted: 2/2 windows passed after the switch: preview error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 500 requests"})

	s = newSim(t, cfg)
	s.decide(healthy(50), "")
	s.expect(3, s.decide(failing(500, 20), ""), want{sdk.Hold, PhaseVerifying, 100, ""})
	s.expect(4, s.decide(failing(500, 20), ""), want{sdk.Rollback, PhaseAborted, 0,
		`rolled back after the switch: 2/2 failed checks: preview error rate 20.00% > 1% (500 requests); all traffic back to "[10.0.0.1:80]"`})

	// An operator's promote also verifies; abort during it switches back.
	s = newSim(t, base+`, "post_promotion": 1}`)
	s.expect(5, s.decide(healthy(0), sdk.CommandPromote), want{sdk.Step, PhaseVerifying, 100, ""})
	s.expect(6, s.decide(healthy(0), sdk.CommandAbort), want{sdk.Rollback, PhaseAborted, 0,
		`aborted by an operator after the switch: all traffic back to "[10.0.0.1:80]"`})
}
