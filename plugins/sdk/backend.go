package sdk

import "context"

// Backend resolves the route targets of its schemes to endpoints.
type Backend interface {
	Plugin
	// Watch streams complete snapshots of the target's endpoints: the first
	// as soon as it is known, then one after every change, each with a
	// higher Revision. The channel is closed when ctx ends. An error means
	// the target cannot be watched at all (a malformed reference); a target
	// that exists but is unreachable or not ready is a Snapshot saying so.
	Watch(ctx context.Context, target Target) (<-chan Snapshot, error)
}

// Target is one route target, e.g. "marathon:/shop/web:1" is
// {Scheme: "marathon", Ref: "/shop/web:1"}.
type Target struct {
	Scheme string
	Ref    string
}

// String is the target as written in a gateway.
func (t Target) String() string { return t.Scheme + ":" + t.Ref }

// Snapshot is the whole state of one target at one revision: Turnout
// replaces what it had with it, so a snapshot must never be a delta.
type Snapshot struct {
	// Revision increases with every snapshot of one Watch.
	Revision uint64
	// Endpoints are where the target's traffic may go. Unhealthy endpoints
	// may be listed (they are shown, not used).
	Endpoints []Endpoint
	// Ready says the target may take its share of traffic: routes with
	// require_ready (the default) get weight 0 until it is true.
	Ready bool
	// Reason says why the target is not ready, for people ("2 of 3 tasks
	// healthy", "deployment in progress").
	Reason string
	// Error is set when the source could not be read (Marathon or Consul
	// unreachable). Endpoints are then the last ones known: Turnout keeps
	// serving them and marks the route stale.
	Error string
}

// Endpoint is one address of a target.
type Endpoint struct {
	// Address is "host:port" (an IP address, or a DNS name Turnout
	// resolves).
	Address string
	// Healthy endpoints take traffic; the others are shown only.
	Healthy bool
	// Labels describe the endpoint (task ID, agent, tags) for people.
	Labels map[string]string
	// Host, when set, replaces the Host header of HTTP requests sent to
	// the endpoint (Marathon-LB's virtual hosts).
	Host string
}
