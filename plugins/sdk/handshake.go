package sdk

import (
	"fmt"

	"github.com/hashicorp/go-plugin"
)

// Handshake is the go-plugin handshake between Turnout and its plugins. The
// cookie is not a secret: it only stops a plugin executable run by hand
// from waiting forever for a host, and says so.
var Handshake = plugin.HandshakeConfig{
	// Version 1: gRPC, protocol turnout.plugin.v1. The API version proper
	// is negotiated through VersionedPlugins.
	ProtocolVersion:  1,
	MagicCookieKey:   "TURNOUT_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "d7f3a6c2e1b84f0a9c5e2b7d4a1f8e63",
}

// APIVersions are the protocol versions this SDK speaks, newest first.
var APIVersions = []int{APIVersion}

// ServerPlugins is the go-plugin plugin set that serves p. It is exported
// for Serve and test harnesses; plugin authors call Serve.
func ServerPlugins(p Plugin) (map[int]plugin.PluginSet, error) {
	set := plugin.PluginSet{}
	switch impl := p.(type) {
	case Backend:
		set[string(KindBackend)] = &backendPlugin{impl: impl}
	case Policy:
		set[string(KindPolicy)] = &policyPlugin{impl: impl}
	default:
		return nil, fmt.Errorf("sdk: %T implements neither sdk.Backend nor sdk.Policy", p)
	}
	return map[int]plugin.PluginSet{APIVersion: set}, nil
}

// ClientPlugins is the go-plugin plugin set a host dispenses plugins from.
func ClientPlugins() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{APIVersion: {
		string(KindBackend): &backendPlugin{},
		string(KindPolicy):  &policyPlugin{},
	}}
}

// Dispense returns the plugin of the given kind served on an established
// go-plugin connection: a Backend or a Policy.
func Dispense(c plugin.ClientProtocol, kind Kind) (Plugin, error) {
	raw, err := c.Dispense(string(kind))
	if err != nil {
		return nil, fmt.Errorf("dispense %s plugin: %w", kind, err)
	}
	p, ok := raw.(Plugin)
	if !ok {
		return nil, fmt.Errorf("dispense %s plugin: got %T", kind, raw)
	}
	return p, nil
}
