package engine

import (
	"errors"
	"fmt"

	"github.com/turnout/turnout/core/gateway"
)

// Limits bound the gateways an agent accepts; 0 means no limit. A
// table's build, its /metrics series and every write's check grow with
// the routes, so an unbounded gateway is a way to stall the agent.
type Limits struct {
	// MaxRoutesPerGateway is --max-routes-per-gateway.
	MaxRoutesPerGateway int
	// MaxGateways is --max-gateways: gateways per agent.
	MaxGateways int
}

// ErrLimit is wrapped by every *LimitError.
var ErrLimit = errors.New("over a configured limit")

// LimitError is a gateway set refused by Limits.Check.
type LimitError struct {
	Gateway string
	// What is counted: "routes" (of Gateway) or "gateways" (of the
	// agent, Gateway being one the change adds).
	What  string
	Count int
	Limit int
	// Flag is the serve flag that sets the limit.
	Flag string
}

func (e *LimitError) Error() string {
	if e.What == "gateways" {
		return fmt.Sprintf("gateway %q would make %d gateways on this agent, over the limit of %d (%s): %v", e.Gateway, e.Count, e.Limit, e.Flag, ErrLimit)
	}
	return fmt.Sprintf("gateway %q has %d routes, over the limit of %d routes per gateway (%s): %v", e.Gateway, e.Count, e.Limit, e.Flag, ErrLimit)
}

func (e *LimitError) Unwrap() error { return ErrLimit }

// Check refuses next, the gateway set a write would leave, where it goes
// over a limit that prev, the set before the write, did not: a gateway
// with more routes than MaxRoutesPerGateway, or more gateways than
// MaxGateways. What prev already had over a limit (accepted before the
// limit was lowered) may stay and shrink, so that writes to it and to
// other gateways, rollbacks included, keep working; it may not grow.
// Every violation is reported, each a *LimitError.
func (l Limits) Check(prev, next []*gateway.Gateway) error {
	var errs []error
	if l.MaxRoutesPerGateway > 0 {
		before := make(map[string]int, len(prev))
		for _, g := range prev {
			before[g.Name] = len(g.Routes)
		}
		for _, g := range next {
			if n := len(g.Routes); n > l.MaxRoutesPerGateway && n > before[g.Name] {
				errs = append(errs, &LimitError{Gateway: g.Name, What: "routes", Count: n, Limit: l.MaxRoutesPerGateway, Flag: "--max-routes-per-gateway"})
			}
		}
	}
	if n := len(next); l.MaxGateways > 0 && n > l.MaxGateways && n > len(prev) {
		had := make(map[string]bool, len(prev))
		for _, g := range prev {
			had[g.Name] = true
		}
		var added []string
		for _, g := range next {
			if !had[g.Name] {
				added = append(added, g.Name)
			}
		}
		// Named: the first added gateway past the limit, the kept ones
		// counted first.
		name := ""
		if len(added) > 0 { // none only with duplicate names, which the check refuses
			name = added[min(max(l.MaxGateways-(n-len(added)), 0), len(added)-1)]
		}
		errs = append(errs, &LimitError{Gateway: name, What: "gateways", Count: n, Limit: l.MaxGateways, Flag: "--max-gateways"})
	}
	return errors.Join(errs...)
}
