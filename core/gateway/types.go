// Package gateway is Turnout's gateway artefact: Vamp's gateway format
// (name, port, routes with weights and conditions, sticky, virtual hosts),
// decoded from YAML or JSON and validated by Vamp's rules.
package gateway

import (
	"time"

	"github.com/turnout/turnout/core/condition"
)

// Protocol is what a gateway port speaks.
type Protocol string

const (
	HTTP Protocol = "http"
	TCP  Protocol = "tcp"
)

// Port is a gateway's listening port. Number 0 means "not given": the
// engine assigns one from the configured gateway port range.
type Port struct {
	Number   int
	Protocol Protocol
}

// Warning is a problem that does not refuse the artefact: something written
// that has no effect. Field is the path, as in FieldError.
type Warning struct {
	Field   string
	Message string
}

func (w Warning) String() string {
	if w.Field == "" {
		return w.Message
	}
	return w.Field + ": " + w.Message
}

// Sticky is the gateway's session affinity.
type Sticky string

const (
	StickyNone     Sticky = ""
	StickyRoute    Sticky = "route"
	StickyInstance Sticky = "instance"
)

// Balance is how a route spreads requests across its endpoints.
type Balance string

const (
	BalanceDefault    Balance = "default" // round robin for http, least connections for tcp
	BalanceRoundRobin Balance = "roundrobin"
	BalanceLeastConn  Balance = "leastconn"
)

// Weight is a share of traffic in hundredths of a percent (basis points):
// 10000 is 100%, 50 is 0.5%. Vamp's whole percents are multiples of 100.
type Weight int

// Full is 100%.
const Full Weight = 10000

// TargetKind says who resolves a route target to endpoints.
type TargetKind string

const (
	// Static is "[host:port]", resolved by the core (DNS names re-resolved).
	Static TargetKind = "static"
	// GatewayRef is Vamp's reference to another gateway: a route key of 1 to
	// 3 "/"-separated parts names a gateway, and the route sends its share
	// through that gateway's routes. The "@" keeps it apart from every
	// plugin scheme.
	GatewayRef TargetKind = "@gateway"
)

// Plugin reports whether a backend plugin resolves the target.
func (t Target) Plugin() bool { return t.Kind != Static && t.Kind != GatewayRef && t.Kind != "" }

// Target is what a route key points at. For Static, Host and Port are set;
// for GatewayRef, Ref is the gateway's name; for every other kind (a backend plugin's scheme such as "minuteman",
// "marathon-lb", "marathon", "consul", or a third party's), Ref is the text
// after "scheme:".
type Target struct {
	Kind TargetKind
	Host string
	Port int
	Ref  string
}

// Gateway is one validated gateway artefact.
type Gateway struct {
	Name         string
	Port         Port
	Sticky       Sticky
	VirtualHosts []string
	// Routes keep the order of the source document: condition_strength
	// tries conditioned routes in that order.
	Routes []Route
	// Policy, if set, drives the weights (a policy plugin).
	Policy *Policy
	// Line is where the gateway starts in its source file (0 if unknown).
	Line int
	// PortText is the port as it was written ("8080", "8080/http"), so it
	// is written back as given; "" when none was (the engine assigned it).
	PortText string
	// Warnings are what the reader accepted but ignores, written in the
	// API's answers; they are not part of the artefact.
	Warnings []Warning
	// refs is set while routes reference stored routes not resolved yet
	// (see ResolveRoutes); nil otherwise.
	refs *refState
}

// Route is one route of a gateway, keyed by its target text.
type Route struct {
	// Name is the route key exactly as written, e.g. "[10.0.0.1:3000]".
	Name   string
	Target Target
	// Weight is the route's share after Vamp's defaulting (even split when
	// no route has a weight).
	Weight Weight
	// Condition is the source text of the condition ("" for none) and
	// Match its compiled form (nil for none).
	Condition string
	Match     *condition.Matcher
	// ConditionRef names the named condition the route references (Vamp's
	// `condition: {reference: NAME}`), "" for an inline one. Condition then
	// holds the text the reference resolved to when the gateway was
	// written, so a stored gateway compiles without a lookup; "" until
	// ResolveConditions fills it.
	ConditionRef string
	// ConditionStrength is the share of condition-matching requests the
	// route takes (default 100% when a condition is set, else 0).
	ConditionStrength Weight
	Rewrites          []Rewrite
	Balance           Balance
	// Timeout bounds one request to the route's endpoints (0 = engine default).
	Timeout time.Duration
	// Retries is how many other endpoints an idempotent request may be
	// retried on after a connection failure (nil = engine default).
	Retries *int
	// RequireReady holds the route at weight 0 until the backend plugin
	// resolving its target reports it ready (default true; static
	// "[host:port]" targets are always ready).
	RequireReady bool
	// Selector is Vamp's route selector ("" for none): the route's key is
	// then only its name, and its endpoints are the Marathon tasks the
	// selector selects (Target is SelectorTarget of it).
	Selector string
	// Mirror, if set, copies a share of the requests this route takes to
	// another route of the gateway, whose answers are discarded.
	Mirror *Mirror
	// RouteRef names the stored route (Vamp's /api/v1/routes) whose fields
	// the route takes (`KEY: NAME` or `KEY: {reference: NAME}`), "" for
	// none. The other fields then hold what the reference resolved to when
	// the gateway was written, so a stored gateway compiles without a
	// lookup; ResolveRoutes fills them.
	RouteRef string
}

// Mirror is a route's `mirror: {route: KEY, share: "N%"}`.
type Mirror struct {
	// Route is the key of the route the copies go to.
	Route string
	// Share is the share of the route's requests copied (default 100%).
	Share Weight
}

// Conditioned reports whether the route has a condition, inline or named.
func (r *Route) Conditioned() bool { return r.Condition != "" || r.ConditionRef != "" }

// Rewrite is Vamp's "path: NEW if COND": when Match matches, the request
// path becomes Path, where "%[path]" stands for the original path.
type Rewrite struct {
	Path      string
	Condition string
	Match     *condition.Matcher
}
