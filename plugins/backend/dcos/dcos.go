// Package dcos is the built-in plugin that serves Turnout's three DC/OS
// backends, marathon:, minuteman: and marathon-lb:, from one process, so
// that they share one Marathon event stream and one model (issue 18).
// Each scheme resolves as its own package says (plugins/backend/marathon,
// minuteman, marathonlb); this one only puts them together. See
// docs/plugins.md.
package dcos

import (
	"github.com/turnout/turnout/internal/marathon"
	marathonbackend "github.com/turnout/turnout/plugins/backend/marathon"
	"github.com/turnout/turnout/plugins/backend/marathonlb"
	"github.com/turnout/turnout/plugins/backend/minuteman"
	"github.com/turnout/turnout/plugins/sdk"
)

// Name is the plugin's name: `turnout plugin start backend dcos`, and
// backend/dcos in `turnout plugin list` and the plugin metrics.
const Name = "dcos"

// Plugin is the combined DC/OS backend. It implements sdk.Backend.
type Plugin struct{ *marathon.Combined }

var _ sdk.Backend = (*Plugin)(nil)

// New returns the plugin; Configure (or the first Watch, with the
// defaults) sets it up. Close stops its Marathon watchers.
func New() *Plugin {
	return &Plugin{marathon.NewCombined(Name,
		"Marathon apps as marathon: (their tasks), minuteman: (their DC/OS VIPs) and marathon-lb: (Marathon-LB exposing them) targets, from one Marathon event stream",
		marathonbackend.New().Backend, minuteman.New().Backend, marathonlb.New().Backend)}
}
