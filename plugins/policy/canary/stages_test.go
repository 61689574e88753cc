package canary

import (
	"net/http"
	"strings"
	"testing"

	"github.com/turnout/turnout/plugins/sdk"
)

// Flagger's A/B testing (iterations): the canary's condition takes its
// requests while the weights stay put; after that many passing windows
// the weight steps start, and a failing window counts as any other.
func TestABTestingBeforeTheWeightSteps(t *testing.T) {
	s := newSim(t, base+`, "steps": [20, 50], "iterations": 3}`)
	s.expect(0, s.decide(healthy(100), ""), want{sdk.Hold, PhaseInitializing, 0,
		"A/B testing, iteration 1/3 passed: canary error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 100 requests"})
	s.expect(1, s.decide(healthy(3), ""), want{sdk.Hold, PhaseInitializing, 0, ""}) // too few: not counted
	s.expect(2, s.decide(healthy(100), ""), want{sdk.Hold, PhaseInitializing, 0, ""})
	s.expect(3, s.decide(healthy(100), ""), want{sdk.Step, PhaseProgressing, 20,
		"step 1/2 → 20%: A/B testing passed (3 iterations): canary error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 100 requests"})
	s.expect(4, s.decide(healthy(100), ""), want{sdk.Step, PhaseProgressing, 50, ""})

	s = newSim(t, base+`, "steps": [20, 50], "iterations": 3}`)
	s.decide(healthy(100), "")
	s.expect(5, s.decide(failing(100, 50), ""), want{sdk.Rollback, PhaseRolledBack, 0, ""})
}

// A timed pause after a step holds the weights until it ends, the checks
// still judging each window; then the steps go on.
func TestTimedPauseStep(t *testing.T) {
	s := newSim(t, base+`, "steps": [20, {"pause": {"duration": "2m"}}, 50, {"pause": "1m"}]}`)
	s.expect(0, s.decide(healthy(0), ""), want{sdk.Step, PhaseProgressing, 20, ""})
	// Decisions come every 30s: the pause starts at 1:00 and ends at 3:00.
	s.expect(1, s.decide(healthy(100), ""), want{sdk.Hold, PhaseProgressing, 20,
		"step 1/2 (20%) passed: canary error rate 0.00% ≤ 1%, p99 12ms ≤ 500ms, 100 requests; pause 2m0s, until 2025-01-01T00:03:00Z"})
	for i := 2; i <= 4; i++ {
		s.expect(i, s.decide(healthy(100), ""), want{sdk.Hold, PhaseProgressing, 20, ""})
	}
	s.expect(5, s.decide(healthy(100), ""), want{sdk.Step, PhaseProgressing, 50, ""})
	// The pause after the last step comes before the promotion.
	s.expect(6, s.decide(healthy(100), ""), want{sdk.Hold, PhaseProgressing, 50, ""})
	s.expect(7, s.decide(healthy(100), ""), want{sdk.Hold, PhaseProgressing, 50, ""})
	s.expect(8, s.decide(healthy(100), ""), want{sdk.Promote, PhasePromoted, 100, ""})

	// A failing window during a pause rolls back.
	s = newSim(t, s.config)
	s.decide(healthy(0), "")
	s.decide(healthy(100), "")
	s.expect(9, s.decide(failing(100, 50), ""), want{sdk.Rollback, PhaseRolledBack, 0, ""})
}

// A pause without a duration asks Turnout to pause the policy: the
// decision after an operator resumes it takes the next step.
func TestManualPauseStep(t *testing.T) {
	s := newSim(t, base+`, "steps": [20, {"pause": {}}, 50]}`)
	s.decide(healthy(0), "")
	d := s.decide(healthy(100), "")
	s.expect(0, d, want{sdk.Pause, PhasePaused, 20, ""})
	if !strings.HasSuffix(d.Reason, "; paused until an operator resumes (turnout gateway resume shop)") || d.Weights != nil {
		t.Errorf("pause decision %+v", d)
	}
	// Turnout decides again only once resumed.
	s.expect(1, s.decide(healthy(100), ""), want{sdk.Step, PhaseProgressing, 50, ""})
	s.expect(2, s.decide(healthy(100), ""), want{sdk.Promote, PhasePromoted, 100, ""})
}

// Flagger's rollout, confirm-traffic-increase and event webhooks.
func TestRolloutTrafficIncreaseAndEventWebhooks(t *testing.T) {
	gate, rollout, event := newHook(t, http.StatusForbidden), newHook(t, http.StatusOK), newHook(t, http.StatusOK)
	s := newSim(t, base+`, "steps": [20, 50], "threshold": 2, "webhooks": [`+
		hookConfig("more", HookConfirmTrafficIncrease, gate.URL, "")+`, `+
		hookConfig("smoke", HookRollout, rollout.URL, "")+`, `+
		hookConfig("log", HookEvent, event.URL, "")+`]}`)
	s.expect(0, s.decide(healthy(0), ""), want{sdk.Hold, PhaseInitializing, 0,
		"the rollout starts; waiting for confirm-traffic-increase: confirm-traffic-increase webhook more: HTTP 403: not now; holding at 0%"})
	gate.status.Store(http.StatusOK)
	s.expect(1, s.decide(healthy(0), ""), want{sdk.Step, PhaseProgressing, 20, ""})
	if rollout.count() != 0 {
		t.Errorf("the rollout webhook was called before the canary had traffic to judge")
	}
	rollout.status.Store(http.StatusInternalServerError)
	s.expect(2, s.decide(healthy(100), ""), want{sdk.Hold, PhaseProgressing, 20, "check failed (1/2): rollout webhook smoke: HTTP 500: not now"})
	rollout.status.Store(http.StatusOK)
	s.expect(3, s.decide(healthy(100), ""), want{sdk.Step, PhaseProgressing, 50, ""})
	s.expect(4, s.decide(healthy(100), ""), want{sdk.Promote, PhasePromoted, 100, ""})
	// Told of the three decisions that changed something, not the holds.
	if n := event.count(); n != 3 {
		t.Errorf("event webhook called %d times, want 3", n)
	}
	if p := event.last(); p.Type != HookEvent || p.Metadata["eventType"] != "Normal" || !strings.HasPrefix(p.Metadata["eventMessage"], "promoted after step 2/2") {
		t.Errorf("event payload %+v", p)
	}
}
