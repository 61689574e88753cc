package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/turnout/turnout/plugins/sdk"
	"github.com/turnout/turnout/plugins/sdk/sdktest"
)

const cfg = `{"type": "window", "stable": "v1", "canary": "v2", "step": 50, "from": "09:00", "to": "17:00"}`

func at(hour int, canary int) sdk.Input {
	return sdk.Input{Now: time.Date(2026, 11, 26, hour, 30, 0, 0, time.UTC), Routes: []sdk.RouteMetrics{
		{Route: "v1", Weight: 10000 - canary}, {Route: "v2", Weight: canary}}}
}

func TestConformance(t *testing.T) {
	sdktest.Policy(t, windowPolicy{}, sdktest.PolicyCase{
		Policy:    json.RawMessage(cfg),
		Routes:    []string{"v1", "v2"},
		BadPolicy: json.RawMessage(`{"stable": "v1", "canary": "v3", "step": 10, "from": "09:00", "to": "17:00"}`),
		Inputs:    []sdk.Input{at(8, 0), at(10, 0), at(11, 5000)},
	})
}

func TestStepsOnlyInsideTheWindow(t *testing.T) {
	for _, c := range []struct {
		in   sdk.Input
		want sdk.Action
		w    int
	}{
		{at(8, 0), sdk.Hold, 0},
		{at(10, 0), sdk.Step, 5000},
		{at(11, 5000), sdk.Promote, 10000},
		{at(18, 5000), sdk.Hold, 0},
	} {
		c.in.Config = json.RawMessage(cfg)
		d, err := windowPolicy{}.Decide(context.Background(), c.in)
		if err != nil {
			t.Fatal(err)
		}
		if d.Action != c.want || (c.w != 0 && d.Weights["v2"] != c.w) {
			t.Errorf("at %s: %s %v, want %s with v2 at %d", c.in.Now.Format("15:04"), d.Action, d.Weights, c.want, c.w)
		}
	}
}
