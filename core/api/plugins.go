package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/turnout/turnout/core/pluginhost"
	"github.com/turnout/turnout/plugins/sdk"
)

// Plugins is the plugin host as the API sees it (*pluginhost.Host).
type Plugins interface {
	Statuses() []pluginhost.Status
	Describe(ctx context.Context, kind sdk.Kind, name string) (pluginhost.Status, error)
}

// PluginInfo is one plugin in the API's answers (GET /plugins).
type PluginInfo struct {
	Kind        string    `json:"kind" yaml:"kind"`
	Name        string    `json:"name" yaml:"name"`
	Builtin     bool      `json:"builtin" yaml:"builtin"`
	Path        string    `json:"path" yaml:"path"`
	Checksum    string    `json:"checksum" yaml:"checksum"`
	Version     string    `json:"version,omitempty" yaml:"version,omitempty"`
	APIVersions []int     `json:"api_versions,omitempty" yaml:"api_versions,omitempty"`
	Schemes     []string  `json:"schemes,omitempty" yaml:"schemes,omitempty"`
	Description string    `json:"description,omitempty" yaml:"description,omitempty"`
	State       string    `json:"state" yaml:"state"`
	Restarts    int       `json:"restarts" yaml:"restarts"`
	PID         int       `json:"pid,omitempty" yaml:"pid,omitempty"`
	Since       time.Time `json:"since,omitzero" yaml:"since,omitempty"`
	Error       string    `json:"error,omitempty" yaml:"error,omitempty"`
}

func toPluginInfo(s pluginhost.Status) PluginInfo {
	p := PluginInfo{
		Kind: string(s.Kind), Name: s.Name, Builtin: s.Builtin, Path: s.Path,
		Version: s.Info.Version, APIVersions: s.Info.APIVersions, Schemes: s.Info.Schemes, Description: s.Info.Description,
		State: string(s.State), Restarts: s.Restarts, PID: s.PID, Since: s.Since, Error: s.LastError,
	}
	switch {
	case errors.Is(s.Refused, pluginhost.ErrNoChecksum):
		p.Checksum = "missing"
	case errors.Is(s.Refused, pluginhost.ErrChecksumMismatch):
		p.Checksum = "mismatch"
	case s.Builtin:
		p.Checksum = "verified (turnout binary)"
	case len(s.Checksum) > 0:
		p.Checksum = "verified"
	default:
		p.Checksum = "unknown"
	}
	return p
}

// GET /plugins
func (a *gatewayAPI) listPlugins(w http.ResponseWriter, r *http.Request, _ params) error {
	out := []PluginInfo{}
	if a.plugins != nil {
		for _, s := range a.plugins.Statuses() {
			out = append(out, toPluginInfo(s))
		}
	}
	render(w, r, http.StatusOK, out)
	return nil
}

// GET /plugins/{kind}/{name}
func (a *gatewayAPI) describePlugin(w http.ResponseWriter, r *http.Request, p params) error {
	if a.plugins == nil {
		return errorf(http.StatusNotFound, "no plugins in this turnout")
	}
	if p.kind != string(sdk.KindBackend) && p.kind != string(sdk.KindPolicy) {
		return errorf(http.StatusNotFound, "plugin kind %q: want backend or policy", p.kind)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	s, err := a.plugins.Describe(ctx, sdk.Kind(p.kind), p.name)
	if errors.Is(err, pluginhost.ErrUnknownPlugin) {
		return errorf(http.StatusNotFound, "%v", err)
	}
	if err != nil {
		return err
	}
	render(w, r, http.StatusOK, toPluginInfo(s))
	return nil
}
