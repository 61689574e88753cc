package sdk

import (
	"context"
	"encoding/json"
)

// APIVersion is the plugin protocol version this SDK speaks. Turnout and a
// plugin negotiate the highest version both know; a plugin built against an
// SDK with no common version is refused with both version lists named.
const APIVersion = 1

// Kind is what a plugin does.
type Kind string

const (
	// KindBackend plugins resolve route targets to endpoints.
	KindBackend Kind = "backend"
	// KindPolicy plugins drive a gateway's weights.
	KindPolicy Kind = "policy"
)

// Info describes a plugin.
type Info struct {
	// Name is the plugin's name, as in the executable name
	// turnout-plugin-KIND-NAME and in a gateway's `policy: {type: NAME}`.
	Name string
	Kind Kind
	// Version is the plugin's own version (semantic versioning).
	Version string
	// APIVersions are the protocol versions the plugin speaks; Serve fills
	// it in.
	APIVersions []int
	// Schemes are the route target schemes a backend resolves, e.g.
	// "marathon" for "marathon:/app-id". Empty for policies.
	Schemes     []string
	Description string
}

// Plugin is what every plugin implements.
type Plugin interface {
	// Info describes the plugin. It is called first, before Configure.
	Info(ctx context.Context) (Info, error)
	// Configure passes the plugin its configuration, a JSON object from
	// Turnout's plugin settings (an empty object when there is none). It is
	// called once per process start, before any other call; an error stops
	// the plugin from being used and is shown to the operator.
	Configure(ctx context.Context, config json.RawMessage) error
}
