// Package builtin lists the plugins compiled into the turnout binary. They
// still run as separate processes: Turnout re-executes itself as
// `turnout plugin start KIND NAME`, which looks the plugin up here and
// serves it with sdk.Serve.
package builtin

import (
	"sort"

	"github.com/turnout/turnout/plugins/sdk"
)

// Factory makes a fresh plugin.
type Factory func() sdk.Plugin

// Plugin is one built-in plugin.
type Plugin struct {
	Kind sdk.Kind
	Name string
	New  Factory
}

var registry = map[string]Plugin{}

// register adds a built-in; a duplicate is a programming error.
func register(kind sdk.Kind, name string, f Factory) {
	id := string(kind) + "/" + name
	if _, dup := registry[id]; dup {
		panic("builtin: plugin " + id + " registered twice")
	}
	registry[id] = Plugin{Kind: kind, Name: name, New: f}
}

// All lists the built-in plugins by kind, then name.
func All() []Plugin {
	out := make([]Plugin, 0, len(registry))
	for _, p := range registry {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Lookup finds a built-in plugin.
func Lookup(kind sdk.Kind, name string) (Plugin, bool) {
	p, ok := registry[string(kind)+"/"+name]
	return p, ok
}
