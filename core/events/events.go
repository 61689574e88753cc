// Package events is turnout's event bus: what happened to gateways, routes,
// policies, plugins and ports, in order, for GET /api/v1/events (a
// Server-Sent Events stream), the CLI's watch and the web console.
//
// Publishing never blocks: a subscriber whose buffer is full is dropped
// (its channel closed, Dropped true), and reconnects with Last-Event-ID to
// resume from a bounded in-memory history. The bus is per process: in a
// cluster every agent publishes what it sees.
package events

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// Type is what an event is about. The part before the dot is its category,
// which a filter may name instead of a type ("policy" for every decision).
type Type string

const (
	GatewayCreated Type = "gateway.created"
	GatewayChanged Type = "gateway.changed"
	GatewayDeleted Type = "gateway.deleted"
	// PolicyDecision is a routing policy's decision: its action (step,
	// hold, promote, rollback, pause, ...) and the checks' values.
	PolicyDecision Type = "policy.decision"
	// PolicyCommand is an operator's command to a policy (promote, pause,
	// resume, abort, retry), published by the agent that took it.
	PolicyCommand Type = "policy.command"
	// PolicyFailed: a policy's decision failed (its plugin down, an
	// error), the first of a run of failures; the weights are held.
	PolicyFailed Type = "policy.failed"
	// RouteHeld and RouteReleased: readiness took a route out of, or put
	// it back into, the weighted choice.
	RouteHeld     Type = "route.held"
	RouteReleased Type = "route.released"
	// EndpointsAdded and EndpointsRemoved: a route's backend plugin
	// reported endpoints that were not there, or no longer reports some.
	EndpointsAdded   Type = "endpoints.added"
	EndpointsRemoved Type = "endpoints.removed"
	PluginStarted    Type = "plugin.started"
	PluginCrashed    Type = "plugin.crashed"
	// PortConflict: a gateway's port is (or is about to be) bound by
	// something else (Marathon-LB, another process).
	PortConflict Type = "port.conflict"
	// PortResolved: a conflict reported before is gone.
	PortResolved Type = "port.resolved"
)

// Types lists every type published, for documentation and validation.
var Types = []Type{GatewayCreated, GatewayChanged, GatewayDeleted, PolicyDecision, PolicyCommand, PolicyFailed,
	RouteHeld, RouteReleased, EndpointsAdded, EndpointsRemoved, PluginStarted, PluginCrashed, PortConflict, PortResolved}

// Markers are sent on a stream, never kept in the history.
const (
	// Dropped ends a stream whose reader fell behind; it reconnects with
	// Last-Event-ID.
	Dropped Type = "dropped"
	// Lost says that events between the Last-Event-ID given and the oldest
	// kept were evicted from the history (or the id is from another run of
	// the server); what follows is everything kept.
	Lost Type = "lost"
)

// Category is the part of a type before its dot.
func (t Type) Category() string {
	c, _, _ := strings.Cut(string(t), ".")
	return c
}

// Event is one thing that happened. ID and Time are set by Publish.
type Event struct {
	ID      uint64    `json:"id"`
	Time    time.Time `json:"time"`
	Type    Type      `json:"type"`
	Gateway string    `json:"gateway,omitempty"`
	Route   string    `json:"route,omitempty"`
	// Revision is the gateway revision a gateway event made.
	Revision int64 `json:"revision,omitempty"`
	// Reason says why, when known (an operator's --reason, a policy's
	// decision, a readiness hold's cause, a crash's error).
	Reason string `json:"reason,omitempty"`
	// Author is who made a manual change: the name of the token used.
	Author string `json:"author,omitempty"`
	// Data holds the type's details (a decision's action and checks, the
	// endpoints added, the port in conflict): a JSON object.
	Data any `json:"data,omitempty"`

	// encoded is the event's JSON, made once by Publish for every reader.
	encoded []byte
}

// JSON is the event encoded as the stream's data line carries it.
func (e *Event) JSON() []byte {
	if e.encoded == nil {
		e.encoded = encode(e)
	}
	return e.encoded
}

func encode(e *Event) []byte {
	b, err := marshal(e)
	if err != nil {
		// Data the publisher gave cannot be encoded: keep the event, say why.
		d := e.Data
		e.Data = map[string]string{"error": "data not encodable: " + err.Error()}
		b, _ = marshal(e)
		e.Data = d
	}
	return b
}

// marshal is JSON on one line, "<" and "&" as they are: readers are
// programs and terminals, not HTML.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
