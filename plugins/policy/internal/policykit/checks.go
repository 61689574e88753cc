// Package policykit is what Turnout's built-in policies (canary,
// bluegreen) share: the checks on a route's window, the readers of a
// policy section's values, and the handling of the two routes a policy
// moves traffic between. Every error is prefixed with the policy's name
// (who: "canary", "bluegreen"), as the policy's own errors are.
package policykit

import (
	"fmt"
	"strings"
	"time"

	"github.com/turnout/turnout/plugins/sdk"
)

// Analysis is the verdict on one route's window.
type Analysis struct {
	Checks []sdk.Check
	// Enough is false when the window has too few requests to judge:
	// neither a pass nor a failure.
	Enough bool
	Passed bool
	// Summary states the figures ("canary error rate 0.00% ≤ 1%, p99
	// 12ms ≤ 500ms, 312 requests"); Failures only the failing ones.
	Summary, Failures string
}

// Analyse runs the checks on a route's window. who names the route in
// the words of the policy ("canary", "preview").
func Analyse(who string, m sdk.RouteMetrics, minRequests int, maxErrorRate float64, maxP99 time.Duration) Analysis {
	a := Analysis{}
	req := sdk.Check{Name: "requests", Route: m.Route, Value: float64(m.Requests), Limit: float64(minRequests)}
	if m.Requests < uint64(minRequests) {
		req.Detail = fmt.Sprintf("not enough data: %d requests < %d", m.Requests, minRequests)
		a.Checks = append(a.Checks, req)
		a.Summary = fmt.Sprintf("not enough data: %d %s requests < %d needed", m.Requests, who, minRequests)
		return a
	}
	a.Enough = true
	req.Passed = true
	req.Detail = fmt.Sprintf("%d requests ≥ %d", m.Requests, minRequests)

	rate := m.ErrorRate() * 100
	er := sdk.Check{Name: "error-rate", Route: m.Route, Value: rate, Limit: maxErrorRate, Passed: rate <= maxErrorRate}
	erText := fmt.Sprintf("error rate %.2f%% %s %s", rate, cmp(er.Passed), Pct(maxErrorRate))
	er.Detail = fmt.Sprintf("%s (%d of %d failed)", erText, m.Failed(), m.Requests)

	p99 := sdk.Check{Name: "p99", Route: m.Route, Value: ms(m.P99), Limit: ms(maxP99), Passed: m.P99 <= maxP99}
	p99.Detail = fmt.Sprintf("p99 %s %s %s", dur(m.P99), cmp(p99.Passed), dur(maxP99))

	a.Checks = append(a.Checks, req, er, p99)
	a.Passed = er.Passed && p99.Passed
	a.Summary = fmt.Sprintf("%s %s, %s, %d requests", who, erText, p99.Detail, m.Requests)
	var bad []string
	if !er.Passed {
		bad = append(bad, erText)
	}
	if !p99.Passed {
		bad = append(bad, p99.Detail)
	}
	if len(bad) > 0 {
		a.Failures = fmt.Sprintf("%s %s (%d requests)", who, strings.Join(bad, ", "), m.Requests)
	}
	return a
}

func cmp(ok bool) string {
	if ok {
		return "≤"
	}
	return ">"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// dur writes a latency readably: 12ms, 1.5s, 312.4µs.
func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(100 * time.Nanosecond).String()
	}
}
