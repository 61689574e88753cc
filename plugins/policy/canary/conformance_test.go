package canary

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/turnout/turnout/plugins/sdk"
	"github.com/turnout/turnout/plugins/sdk/sdktest"
)

// The plugin passes the SDK's conformance kit over the real transport.
func TestConformance(t *testing.T) {
	routes := func(canaryWeight int, win sdk.RouteMetrics) []sdk.RouteMetrics {
		win.Route, win.Weight, win.Ready = canary, canaryWeight, true
		return []sdk.RouteMetrics{{Route: stable, Weight: 10000 - canaryWeight, Ready: true}, win}
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	sdktest.Policy(t, New(), sdktest.PolicyCase{
		Policy:    json.RawMessage(base + `, "steps": [10, 50], "threshold": 2}`),
		Routes:    []string{stable, canary},
		BadPolicy: json.RawMessage(base + `, "steps": [50, 10]}`),
		Inputs: []sdk.Input{
			{Gateway: "shop", Now: now, Routes: routes(0, healthy(0))},
			{Gateway: "shop", Now: now.Add(30 * time.Second), Routes: routes(1000, healthy(100))},
			{Gateway: "shop", Now: now.Add(time.Minute), Routes: routes(5000, failing(100, 30))},
			{Gateway: "shop", Now: now.Add(90 * time.Second), Routes: routes(5000, healthy(100))},
		},
	})
}
