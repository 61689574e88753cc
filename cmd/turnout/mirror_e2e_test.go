package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// Mirroring as a canary's first phase, through the real binary: the stable
// route copies every request to the canary's route (at 0%), and the
// canary's A/B windows judge those copies. A good canary then gets its
// steps and is promoted; a bad one (every answer a 500) is rolled back
// before a single user request reached it.
func TestMirrorAsACanaryPhase(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	for _, tc := range []struct {
		name    string
		bad     bool
		outcome string
	}{{"good", false, "promoted"}, {"bad", true, "rolled-back"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
			if tc.bad {
				canary.failEvery.Store(1)
			}
			port := testnet.FreePort(t)
			gw := fmt.Sprintf(`name: shop
port: %d/http
routes:
  "[%s]":
    weight: 100%%
    mirror: "[%s]"
  "[%s]":
    weight: 0%%
policy:
  type: canary
  interval: 1s
  stable: "[%s]"
  canary: "[%s]"
  iterations: 2
  steps: [50]
  min_requests: 5
`, port, stable.addr, canary.addr, canary.addr, stable.addr, canary.addr)
			tt := start(t, gw)
			users := steadyLoad(t, fmt.Sprintf("http://127.0.0.1:%d/", port)) // anything but a 200 fails
			st := tt.awaitStatus("shop", 60*time.Second, "the rollout "+tc.outcome, func(st e2eStatus) bool {
				return st.Policy != nil && st.Policy.Phase == tc.outcome
			})
			users.stop()
			if tc.bad {
				if users.failed.Load() != 0 || users.count("1.1.0 500") != 0 {
					t.Errorf("users got %d failures, %d from the canary: the bad canary was judged on copies only", users.failed.Load(), users.count("1.1.0 500"))
				}
				if !strings.Contains(st.Policy.Last.Reason, "rolled back") {
					t.Errorf("last decision: %s", st.Policy.Last.Reason)
				}
			}
			if h := tt.history(); tc.bad == strings.Contains(h, "A/B testing passed") {
				t.Errorf("history:\n%s", h)
			}
			if m := tt.metrics(); !strings.Contains(m, `turnout_mirrored_requests_total{`) {
				t.Errorf("no mirrored series:\n%s", grepLines(m, "mirror"))
			}
		})
	}
}
