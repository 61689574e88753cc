// Command turnout-plugin-policy-window is an example third-party policy
// plugin: it moves traffic from a stable route to a canary route by `step`
// percent per interval, but only between `from` and `to` (UTC; equal
// times mean all day), and promotes the canary when it reaches 100%.
// Outside the window it holds.
//
//	policy:
//	  type: window
//	  interval: 1m
//	  stable: "marathon:/shop-1.0"
//	  canary: "marathon:/shop-1.1"
//	  step: 10
//	  from: "09:00"
//	  to: "17:00"
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/turnout/turnout/plugins/sdk"
)

func main() { sdk.Serve(windowPolicy{}) }

type windowPolicy struct{}

type config struct {
	Stable string  `json:"stable"`
	Canary string  `json:"canary"`
	Step   float64 `json:"step"`
	From   string  `json:"from"`
	To     string  `json:"to"`
}

func (windowPolicy) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "window", Kind: sdk.KindPolicy, Version: "1.0.0",
		Description: "step a canary only during a daily time window"}, nil
}

func (windowPolicy) Configure(context.Context, json.RawMessage) error { return nil }

func (windowPolicy) ValidateConfig(_ context.Context, raw json.RawMessage, routes []string) error {
	_, _, _, err := parse(raw, routes)
	return err
}

func parse(raw json.RawMessage, routes []string) (c config, from, to time.Duration, err error) {
	if err = json.Unmarshal(raw, &c); err != nil {
		return c, 0, 0, fmt.Errorf("window: %w", err)
	}
	for _, r := range []struct{ field, route string }{{"stable", c.Stable}, {"canary", c.Canary}} {
		if routes != nil && !slices.Contains(routes, r.route) {
			return c, 0, 0, fmt.Errorf("window: %s: %q is not a route of the gateway", r.field, r.route)
		}
	}
	if c.Step <= 0 || c.Step > 100 {
		return c, 0, 0, fmt.Errorf("window: step must be above 0 and at most 100, got %v", c.Step)
	}
	if from, err = clock(c.From); err != nil {
		return c, 0, 0, fmt.Errorf("window: from: %w", err)
	}
	if to, err = clock(c.To); err != nil {
		return c, 0, 0, fmt.Errorf("window: to: %w", err)
	}
	return c, from, to, nil
}

// clock reads "HH:MM" as a time of day.
func clock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("want HH:MM, got %q", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

func (windowPolicy) Decide(_ context.Context, in sdk.Input) (sdk.Decision, error) {
	c, from, to, err := parse(in.Config, nil)
	if err != nil {
		return sdk.Decision{}, err
	}
	now := in.Now.UTC()
	tod := now.Sub(now.Truncate(24 * time.Hour))
	// from == to is the whole day; to < from wraps past midnight.
	inside := from == to || from <= tod && tod < to || to < from && (tod >= from || tod < to)
	canary, _ := in.Route(c.Canary)
	if !inside {
		return sdk.Decision{Action: sdk.Hold, Phase: "waiting",
			Reason: fmt.Sprintf("outside the window %s-%s UTC", c.From, c.To)}, nil
	}
	w := min(canary.Weight+sdk.Percent(c.Step), sdk.Percent(100))
	d := sdk.Decision{Action: sdk.Step, Phase: "progressing",
		Weights: map[string]int{c.Canary: w, c.Stable: sdk.Percent(100) - w},
		Reason:  fmt.Sprintf("inside the window %s-%s UTC: canary to %d%%", c.From, c.To, w/100)}
	if w == sdk.Percent(100) {
		d.Action, d.Phase, d.Reason = sdk.Promote, "promoted", "the canary reached 100% inside the window"
	}
	return d, nil
}
