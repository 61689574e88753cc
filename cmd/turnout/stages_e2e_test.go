package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// A canary that starts with A/B testing and pauses for an operator, through
// the real binary: for two windows only requests with the beta header reach
// the canary (its weight stays 0%); the weight steps start once a
// confirm-traffic-increase webhook (the test's) says yes; after the first
// step the policy pauses itself until `turnout gateway resume`, then goes
// on to the promotion.
func TestABTestingThenAManualPause(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	var open atomic.Bool
	gate := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !open.Load() {
			http.Error(w, "not yet", http.StatusForbidden)
		}
	}))
	port := testnet.FreePort(t)
	gw := fmt.Sprintf(`name: shop
port: %d/http
routes:
  "[%s]":
    weight: 100%%
  "[%s]":
    weight: 0%%
    condition: header X-Beta == yes
policy:
  type: canary
  interval: 1s
  stable: "[%s]"
  canary: "[%s]"
  iterations: 2
  steps: [20, {pause: {}}, 50]
  min_requests: 1
  webhooks:
    - {name: gate, type: confirm-traffic-increase, url: "http://%s/"}
`, port, stable.addr, canary.addr, stable.addr, canary.addr, gate)
	tt := start(t, gw)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	plain := startPolicyLoad(t, url, 2, 5*time.Millisecond)
	beta := startLoad(t, url, loadOptions{clients: 1, pace: 5 * time.Millisecond, header: http.Header{"X-Beta": {"yes"}}, backendErrors: true})

	// The A/B testing passes and the first step waits for the gate: until
	// then the canary is at 0%, and only beta requests reached it.
	tt.awaitStatus("shop", 30*time.Second, "the A/B testing passed, the first step waiting for the gate", func(st e2eStatus) bool {
		return st.Policy != nil && st.Policy.Last != nil && strings.Contains(st.Policy.Last.Reason, "A/B testing passed (2 iterations)") &&
			strings.Contains(st.Policy.Last.Reason, "waiting for confirm-traffic-increase")
	})
	if p, b, st := plain.count("1.1.0 200"), beta.count("1.1.0 200"), tt.status("shop"); st.Routes[1].Weight != "0%" || p != 0 || b == 0 {
		t.Errorf("during the A/B testing the canary was at %s and answered %d plain and %d beta requests, want 0%%, 0 and some", st.Routes[1].Weight, p, b)
	}
	open.Store(true)
	tt.awaitStatus("shop", 30*time.Second, "the A/B testing passed and the first step taken", func(st e2eStatus) bool {
		return st.Routes[1].Weight == "20%"
	})
	if h := tt.history(); !strings.Contains(h, "step 1/2 → 20%: A/B testing passed (2 iterations)") {
		t.Errorf("no revision says the A/B testing passed:\n%s", h)
	}
	st := tt.awaitStatus("shop", 30*time.Second, "paused for an operator", func(st e2eStatus) bool {
		return st.Policy != nil && st.Policy.Phase == "paused"
	})
	if st.Routes[1].Weight != "20%" || st.Policy.Last == nil || !strings.Contains(st.Policy.Last.Reason, "paused until an operator resumes (turnout gateway resume shop)") {
		t.Fatalf("paused at %s: %+v", st.Routes[1].Weight, st.Policy.Last)
	}
	if out, code := tt.cli("gateway", "resume", "shop"); code != 0 {
		t.Fatalf("resume: exit %d %s", code, out)
	}
	tt.awaitStatus("shop", 30*time.Second, "the promotion", func(st e2eStatus) bool { return st.Policy.Phase == "promoted" })
	if h := tt.history(); !strings.Contains(h, "step 2/2 → 50%") {
		t.Errorf("the step after the pause is not in the history:\n%s", h)
	}
}
