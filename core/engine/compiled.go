package engine

import (
	"slices"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/routing"
)

// compiledGateway is a gateway's compiled routing state in the table in
// service, with what it was compiled from. A later table reuses it as is
// when none of that changed: a change to one gateway among 1,000 compiles
// one, and the others keep their routing state, metric series and
// round-robin counters.
type compiledGateway struct {
	// src is the gateway document as given to apply. The engine never
	// modifies a gateway it was given after it is in service (only an
	// unassigned port, before), so the same pointer is the same document:
	// Follow's DocCache hands back the same pointer for an unchanged
	// store entry.
	src    *gateway.Gateway
	port   int
	routes []routeInputs
	rg     *routing.Gateway

	// eff and statuses are src as it went into service (see effective);
	// static says src has "[host:port]" routes only, and resolved is the
	// resolver's generation they were computed at.
	eff      *gateway.Gateway
	statuses []RouteStatus
	static   bool
	resolved uint64
}

// routeInputs is what a route's compiled state depends on besides its
// document: its effective weight (held or not) and its resolved endpoints.
type routeInputs struct {
	weight, strength gateway.Weight
	addrs            []string
	host             string
}

// inputsOf reads the inputs of eff, an effective gateway (see effective)
// compiled from src.
func (e *Engine) inputsOf(src, eff *gateway.Gateway) compiledGateway {
	c := compiledGateway{src: src, port: eff.Port.Number, routes: make([]routeInputs, len(eff.Routes))}
	for i := range eff.Routes {
		r := &eff.Routes[i]
		addrs, host := e.addrs(r.Target)
		c.routes[i] = routeInputs{weight: r.Weight, strength: r.ConditionStrength, addrs: addrs, host: host}
	}
	return c
}

// same reports whether c was compiled from what d describes.
func (c compiledGateway) same(d compiledGateway) bool {
	return c.src == d.src && c.port == d.port && slices.EqualFunc(c.routes, d.routes, func(a, b routeInputs) bool {
		return a.weight == b.weight && a.strength == b.strength && a.host == b.host && slices.Equal(a.addrs, b.addrs)
	})
}

// Compiled returns how many gateways the engine compiled into routing
// tables since it started: a table reuses the compiled state of every
// gateway that did not change, so one change adds one.
func (e *Engine) Compiled() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.compiledCount
}
