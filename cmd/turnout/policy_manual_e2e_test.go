package main

// End-to-end tests of a pipeline's trust in policies (issue 23, item 3).

import (
	"strings"
	"testing"
	"time"
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
