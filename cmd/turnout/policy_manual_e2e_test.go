package main

// End-to-end tests of a pipeline's trust in policies (issue 23, item 3).

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// `gateway update --weights` on a gateway whose policy drives the weights
// is refused, and changes nothing; with --force the policy is paused and
// the weights set; once paused, no --force is needed.
func TestManualWeightsUnderARunningPolicyAreRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	tt := startWaitingCanary(t)
	st := tt.status("shop")
	stable, canary := st.Routes[0].Route, st.Routes[1].Route
	weights := stable + "@50%," + canary + "@50%"
	tt.expectCLI(1, "turnout: gateway shop: its canary policy drives the weights (rollout progressing): pause it first (`turnout gateway pause shop`)",
		"gateway", "update", "shop", "--weights", weights)
	if st := tt.status("shop"); st.Routes[1].Weight != "10%" || st.Policy.Phase != "progressing" {
		t.Fatalf("the refused update changed the gateway: canary %s, phase %s", st.Routes[1].Weight, st.Policy.Phase)
	}
	if h := tt.history(); strings.Contains(h, "50%") {
		t.Fatalf("the refused update made a revision:\n%s", h)
	}

	tt.expectCLI(0, "shop: policy canary paused (--force); `turnout gateway resume shop` hands the weights back to it",
		"gateway", "update", "shop", "--weights", weights, "--force")
	tt.awaitStatus("shop", 10*time.Second, "paused at 50%", func(st e2eStatus) bool {
		return st.Policy.Phase == "paused" && st.Routes[1].Weight == "50%"
	})
	tt.expectCLI(0, "", "gateway", "update", "shop", "--weights", stable+"@70%,"+canary+"@30%")
	tt.awaitStatus("shop", 10*time.Second, "paused at 30%", func(st e2eStatus) bool { return st.Routes[1].Weight == "30%" })
}

// min_requests: 0 would pass, and promote, a canary that got no request:
// apply refuses it, naming why, and nothing changes.
func TestMinRequestsZeroIsRefusedAtApply(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	port := testnet.FreePort(t)
	tt := start(t, canaryGateway(port, stable, canary, "  interval: 1h\n  steps: [10, 50]\n"))
	file := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(file, []byte(canaryGateway(port, stable, canary, "  interval: 1h\n  steps: [10, 50]\n  min_requests: 0\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	tt.expectCLI(1, "canary: min_requests: must be a whole number of at least 1, got 0: 0 would judge, and pass, a window in which the canary got no request at all",
		"gateway", "apply", "-f", file)
}

// A canary short of traffic is rolled back at its progress_deadline, with
// a reason saying so, rather than held for ever: status --wait ends.
func TestProgressDeadlineRollsBackACanaryShortOfTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	tt, url := startCanary(t, stable, canary, `  interval: 300ms
  steps: [10, 50]
  min_requests: 1000
  progress_deadline: 1s
`)
	l := startPolicyLoad(t, url, 1, 20*time.Millisecond)
	defer l.stop()
	tt.expectCLI(1, "the rollout ended rolled-back", "gateway", "status", "shop", "--wait", "--wait-timeout", "30s")
	if h := tt.history(); !strings.Contains(h, "policy canary: rollback: rolled back: no progress for progress_deadline 1s: not enough data:") {
		t.Errorf("the rollback does not say why:\n%s", h)
	}
	if st := tt.status("shop"); st.Routes[1].Weight != "0%" {
		t.Errorf("after the rollback the canary is at %s", st.Routes[1].Weight)
	}
}
