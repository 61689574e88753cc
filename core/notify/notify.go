// Package notify tells people about rollouts: it follows the agent's event
// stream and POSTs each rollout event (started, step, paused, promoted,
// rolled back, failed) to Slack incoming webhooks, Microsoft Teams
// connectors and generic webhooks, configured for the whole agent and per
// gateway (its policy's notify list). In a cluster only the agent running
// a gateway's policy decides, so only it notifies.
package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/core/gateway"
)

// Rollout events, as Notice.Event names them.
const (
	Started    = "started"
	Stepped    = "step"
	Paused     = "paused"
	Promoted   = "promoted"
	RolledBack = "rolled back"
	Failed     = "failed"
)

// Notice is one rollout event, what every format is made from; the
// webhook format sends it as it is.
type Notice struct {
	Event   string            `json:"event"`
	Gateway string            `json:"gateway"`
	Policy  string            `json:"policy"`
	Phase   string            `json:"phase,omitempty"`
	Step    int               `json:"step"`
	Reason  string            `json:"reason,omitempty"`
	Author  string            `json:"author,omitempty"`
	Weights map[string]string `json:"weights,omitempty"`
	Checks  []Check           `json:"checks,omitempty"`
	Time    time.Time         `json:"time"`
}

// Check is one of a decision's checks.
type Check struct {
	Name   string  `json:"name"`
	Route  string  `json:"route,omitempty"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Passed bool    `json:"passed"`
}

// noticeOf reads a policy event; ok is false for what is not worth a
// message (a decision that holds).
func noticeOf(e *events.Event) (Notice, bool) {
	var d struct {
		Policy  string            `json:"policy"`
		Action  string            `json:"action"`
		Phase   string            `json:"phase"`
		Step    int               `json:"step"`
		Checks  []Check           `json:"checks"`
		Weights map[string]string `json:"weights"`
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(e.JSON(), &env) != nil || json.Unmarshal(env.Data, &d) != nil {
		return Notice{}, false
	}
	n := Notice{Gateway: e.Gateway, Policy: d.Policy, Phase: d.Phase, Step: d.Step, Reason: e.Reason, Author: e.Author,
		Weights: d.Weights, Checks: d.Checks, Time: e.Time}
	switch {
	case e.Type == events.PolicyFailed:
		n.Event = Failed
	case d.Action == "step" && d.Step == 1:
		n.Event = Started
	case d.Action == "step":
		n.Event = Stepped
	case d.Action == "pause":
		n.Event = Paused
	case d.Action == "promote":
		n.Event = Promoted
	case d.Action == "rollback":
		n.Event = RolledBack
	default:
		return Notice{}, false
	}
	return n, true
}

// Options configure Run.
type Options struct {
	Bus *events.Bus
	// Receivers get every gateway's rollout events (serve --notify).
	Receivers []gateway.Notify
	// Gateway returns a gateway's own receivers (its policy's notify).
	Gateway func(name string) []gateway.Notify
	// Client sends; nil is one with a 5 s timeout.
	Client *http.Client
	Logger *slog.Logger
	// Sent counts the notices by format and result (ok, error, dropped).
	Sent *prometheus.CounterVec
}

// Run notifies until ctx ends.
func Run(ctx context.Context, o Options) {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	senders := map[gateway.Notify]*sender{}
	deliver := func(r gateway.Notify, n Notice) {
		s := senders[r]
		if s == nil {
			s = newSender(ctx, r, o)
			senders[r] = s
		}
		s.queue(n)
	}
	filter := events.Filter{Types: []string{string(events.PolicyDecision), string(events.PolicyFailed)}}
	var last uint64
	resume := false
	for ctx.Err() == nil {
		sub, backlog, _ := o.Bus.Subscribe(filter, last, resume)
		handle := func(e *events.Event) {
			last = e.ID
			n, ok := noticeOf(e)
			if !ok {
				return
			}
			to := slices.Clone(o.Receivers)
			if o.Gateway != nil {
				for _, r := range o.Gateway(e.Gateway) {
					if !slices.Contains(to, r) {
						to = append(to, r)
					}
				}
			}
			for _, r := range to {
				deliver(r, n)
			}
		}
		for _, e := range backlog {
			handle(e)
		}
		for done := false; !done; {
			select {
			case <-ctx.Done():
				sub.Close()
				return
			case e, ok := <-sub.C():
				if !ok && !sub.Dropped() {
					return // the bus closed: the agent stops
				}
				if !ok {
					// Dropped for falling behind: resume after the last
					// event handled, from the bus's history.
					done = true
					break
				}
				handle(e)
			}
		}
		resume = true
	}
}
