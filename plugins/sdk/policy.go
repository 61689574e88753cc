package sdk

import (
	"context"
	"encoding/json"
	"time"
)

// Policy drives a gateway's weights. Turnout calls Decide on the policy's
// interval with the metrics of the last window; it clamps what comes back
// (never more than the configured step, never outside 0-100%) and holds the
// weights when Decide fails or the plugin is gone.
type Policy interface {
	Plugin
	// ValidateConfig checks a gateway's `policy:` section (as JSON) before
	// the gateway is accepted; routes are the gateway's route names. An
	// error is shown to whoever applied the gateway.
	ValidateConfig(ctx context.Context, config json.RawMessage, routes []string) error
	// Decide returns what to do next.
	Decide(ctx context.Context, in Input) (Decision, error)
}

// Command is an operator's request waiting for the policy.
type Command string

const (
	CommandNone    Command = ""
	CommandPromote Command = "promote"
	CommandPause   Command = "pause"
	CommandResume  Command = "resume"
	CommandAbort   Command = "abort"
)

// Input is what a policy decides on.
type Input struct {
	Gateway string
	// Config is the gateway's `policy:` section as JSON.
	Config json.RawMessage
	// State is the State of the policy's last Decision for this gateway
	// (nil the first time). Turnout keeps it in its store, so a restart
	// resumes a rollout where it was.
	State json.RawMessage
	Now   time.Time
	// Window is the span the metrics cover.
	Window time.Duration
	Routes []RouteMetrics
	// Command is an operator's promote, pause, resume or abort, if any.
	Command Command
}

// Route returns the metrics of the named route (and false if there is none).
func (in Input) Route(name string) (RouteMetrics, bool) {
	for _, r := range in.Routes {
		if r.Route == name {
			return r, true
		}
	}
	return RouteMetrics{}, false
}

// RouteMetrics are one route's figures over the window.
type RouteMetrics struct {
	Route string
	// Weight is the route's current weight in basis points (10000 = 100%).
	Weight int
	// Ready is the backend's readiness of the route's target.
	Ready    bool
	Requests uint64
	// Responses counts responses by status class: [0] 1xx ... [4] 5xx.
	Responses [5]uint64
	// ConnectErrors and Timeouts are requests that got no response.
	ConnectErrors uint64
	Timeouts      uint64
	// Latency percentiles of the window (0 without requests).
	P50, P90, P99 time.Duration
}

// Failed is the number of requests that failed: 5xx responses, connection
// failures and timeouts.
func (m RouteMetrics) Failed() uint64 { return m.Responses[4] + m.ConnectErrors + m.Timeouts }

// ErrorRate is Failed over Requests, as a fraction (0 without requests).
func (m RouteMetrics) ErrorRate() float64 {
	if m.Requests == 0 {
		return 0
	}
	return float64(m.Failed()) / float64(m.Requests)
}

// Action is the kind of a Decision.
type Action string

const (
	// Hold keeps the weights.
	Hold Action = "hold"
	// Step moves the weights by at most the configured step.
	Step Action = "step"
	// Promote gives the new version all its traffic at once.
	Promote Action = "promote"
	// Rollback returns all traffic to the stable version at once.
	Rollback Action = "rollback"
	// Pause stops the policy until an operator resumes it.
	Pause Action = "pause"
)

// Decision is what a policy returns.
type Decision struct {
	Action Action
	// Weights are the new weights by route name, in basis points (use
	// Percent). Nil keeps the weights; routes left out keep theirs.
	Weights map[string]int
	// Reason says why, for the revision log and for people.
	Reason string
	// State is kept by Turnout and given back in the next Input.
	State json.RawMessage
	// Checks are the figures the decision rests on, shown by
	// `turnout gateway status`.
	Checks []Check
	// Phase names where the rollout is: "progressing", "promoted",
	// "rolled-back", "paused", "waiting", ...
	Phase string
	// Next asks to be called again after this long instead of the
	// interval (0: the interval).
	Next time.Duration
}

// Check is one test a policy ran on a window.
type Check struct {
	Name   string
	Route  string
	Value  float64
	Limit  float64
	Passed bool
	// Detail says it in words ("error rate 2.1% > 1%", "not enough data").
	Detail string
}

// Percent converts a percentage to basis points: Percent(12.5) is 1250.
func Percent(p float64) int { return int(p*100 + 0.5) }
