package engine

import (
	"slices"

	"github.com/turnout/turnout/core/events"
)

// endpointsEvent is the data of an endpoints.added or .removed event.
type endpointsEvent struct {
	Target    string   `json:"target"`
	Endpoints []string `json:"endpoints"`
}

// publishStatuses tells the bus what changed for each route between the
// table before (prev) and the one now in service: held or released by
// readiness, endpoints added or removed. Gateways whose statuses were
// reused unchanged cost a pointer comparison.
func (e *Engine) publishStatuses(prev, statuses map[string][]RouteStatus) {
	bus := e.opts.Events
	if bus == nil {
		return
	}
	for name, st := range statuses {
		before := prev[name]
		if len(st) > 0 && len(before) == len(st) && &before[0] == &st[0] {
			continue
		}
		for _, s := range st {
			var old *RouteStatus
			for i := range before {
				if before[i].Route == s.Route {
					old = &before[i]
					break
				}
			}
			switch {
			case s.Held != "" && (old == nil || old.Held == ""):
				bus.Publish(events.Event{Type: events.RouteHeld, Gateway: name, Route: s.Route, Reason: s.Held})
			case s.Held == "" && old != nil && old.Held != "":
				bus.Publish(events.Event{Type: events.RouteReleased, Gateway: name, Route: s.Route, Reason: "was held: " + old.Held})
			}
			if s.Resolution == nil {
				continue
			}
			now := addresses(&s)
			was := []string(nil)
			if old != nil {
				was = addresses(old)
			}
			target := s.Resolution.Target.String()
			if added := missing(now, was); len(added) > 0 {
				bus.Publish(events.Event{Type: events.EndpointsAdded, Gateway: name, Route: s.Route,
					Data: endpointsEvent{Target: target, Endpoints: added}})
			}
			if removed := missing(was, now); len(removed) > 0 {
				bus.Publish(events.Event{Type: events.EndpointsRemoved, Gateway: name, Route: s.Route,
					Data: endpointsEvent{Target: target, Endpoints: removed}})
			}
		}
	}
}

// addresses are the healthy endpoints a plugin reported for a route: the
// ones that take traffic.
func addresses(s *RouteStatus) []string {
	if s.Resolution == nil {
		return nil
	}
	var out []string
	for _, ep := range s.Resolution.Endpoints {
		if ep.Healthy {
			out = append(out, ep.Address)
		}
	}
	return out
}

// missing is what of a is not in b, in a's order.
func missing(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
