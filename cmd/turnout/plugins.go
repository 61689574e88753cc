package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/pluginhost"
	"github.com/turnout/turnout/plugins/backend/dcos"
	"github.com/turnout/turnout/plugins/builtin"
	"github.com/turnout/turnout/plugins/sdk"
)

// pluginFlags are serve's plugin settings.
type pluginFlags struct {
	dir         string
	checksums   []string
	configs     []string
	marathonURL string
	acsToken    string
	// marathonCA is a PEM file of the CA to trust for an https Marathon.
	marathonCA string
}

// marathonPlugins share the Marathon settings: the schemes the built-in
// dcos plugin serves from one process (--plugin-config marathon={...}
// still configures the marathon: scheme).
var marathonPlugins = []string{"marathon", "minuteman", "marathon-lb"}

// newPluginHost builds the catalog (built-ins, the plugin directory and its
// checksums) and the host that runs plugins on demand.
func newPluginHost(f pluginFlags, reg *metrics.Registry, bus *events.Bus, log *slog.Logger, changed func()) (*pluginhost.Host, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the turnout binary for built-in plugins: %w", err)
	}
	var builtins []pluginhost.Builtin
	for _, p := range builtin.All() {
		builtins = append(builtins, pluginhost.Builtin{Kind: p.Kind, Name: p.Name, Info: describeBuiltin(p)})
	}
	sums := map[string]string{}
	specs := f.checksums
	if env := os.Getenv("TURNOUT_PLUGIN_CHECKSUMS"); env != "" {
		specs = append(strings.Split(env, ","), specs...)
	}
	for _, s := range specs {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		file, sum, ok := strings.Cut(s, "=")
		if !ok || file == "" || sum == "" {
			return nil, fmt.Errorf("--plugin-checksum %q: want FILE=SHA256, as in turnout-plugin-backend-file=9f86d0 (64 hex digits)", s)
		}
		sums[file] = sum
	}
	dir := cmp.Or(f.dir, os.Getenv("TURNOUT_PLUGIN_DIR"))
	if dir == "" && len(sums) > 0 {
		return nil, fmt.Errorf("--plugin-checksum given without --plugin-dir")
	}
	cat, err := pluginhost.NewCatalog(pluginhost.CatalogOptions{Self: self, Builtins: builtins, Dir: dir, Checksums: sums})
	if err != nil {
		return nil, err
	}
	for _, e := range cat.Entries() {
		switch {
		case e.Refused != nil:
			log.Error("plugin refused", "plugin", e.ID(), "err", e.Refused)
		case e.Replaces:
			log.Warn("third-party plugin replaces the built-in one", "plugin", e.ID(), "path", e.Path)
		}
	}
	configs, err := pluginConfigs(f)
	if err != nil {
		return nil, err
	}
	return pluginhost.New(pluginhost.Options{
		Catalog: cat,
		Config:  configs,
		Logger:  log,
		Events: pluginhost.Events{
			Started: func(id string) {
				reg.PluginStarts.WithLabelValues(id).Inc()
				bus.Publish(events.Event{Type: events.PluginStarted, Data: pluginEvent(id)})
			},
			Crashed: func(id string, why error) {
				reg.PluginCrashes.WithLabelValues(id).Inc()
				bus.Publish(events.Event{Type: events.PluginCrashed, Reason: why.Error(), Data: pluginEvent(id)})
			},
			Up: func(id string, up bool) {
				v := 0.0
				if up {
					v = 1
				}
				reg.PluginUp.WithLabelValues(id).Set(v)
			},
		},
		OnChange: changed,
	}), nil
}

// pluginEvent is the data of a plugin event: the plugin's id ("backend/marathon").
func pluginEvent(id string) map[string]string { return map[string]string{"plugin": id} }

// pluginConfigs assembles each plugin's JSON configuration: the Marathon
// settings for the Marathon-based backends, then --plugin-config NAME=JSON,
// which wins.
func pluginConfigs(f pluginFlags) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	m := map[string]any{}
	if u := cmp.Or(f.marathonURL, os.Getenv("TURNOUT_MARATHON_URL")); u != "" {
		m["urls"] = strings.Split(u, ",")
	}
	if t := cmp.Or(f.acsToken, os.Getenv("TURNOUT_DCOS_ACS_TOKEN")); t != "" {
		m["acs_token"] = t
	}
	if s := os.Getenv("TURNOUT_DCOS_SERVICE_ACCOUNT_SECRET"); s != "" {
		m["service_account_secret"] = s
	}
	if ca := cmp.Or(f.marathonCA, os.Getenv("TURNOUT_MARATHON_CA_CERT")); ca != "" {
		m["ca_file"] = ca
	}
	if len(m) > 0 {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		for _, name := range marathonPlugins {
			out[name] = b
		}
	}
	for _, s := range f.configs {
		name, raw, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--plugin-config %q: want NAME=JSON, e.g. consul={\"address\":\"127.0.0.1:8500\"}", s)
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(raw), &obj); err != nil {
			return nil, fmt.Errorf("--plugin-config %s: want a JSON object: %w", name, err)
		}
		out[name] = json.RawMessage(raw)
	}
	// The dcos plugin's configuration is its schemes' (see
	// marathon.Combined), unless it is given whole.
	if _, ok := out[dcos.Name]; !ok {
		whole := map[string]json.RawMessage{}
		for _, name := range marathonPlugins {
			if c, ok := out[name]; ok {
				whole[name] = c
			}
		}
		if len(whole) > 0 {
			b, err := json.Marshal(whole)
			if err != nil {
				return nil, err
			}
			out[dcos.Name] = b
		}
	}
	return out, nil
}

// describeBuiltin asks a built-in plugin for its Info in this process (a
// constructor and Info start nothing), so `turnout plugin list` shows its
// version before it ever runs.
func describeBuiltin(p builtin.Plugin) sdk.Info {
	impl := p.New()
	if c, ok := impl.(io.Closer); ok {
		defer c.Close()
	}
	info, err := impl.Info(context.Background())
	if err != nil {
		return sdk.Info{}
	}
	if len(info.APIVersions) == 0 {
		info.APIVersions = sdk.APIVersions
	}
	return info
}
