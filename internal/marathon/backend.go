package marathon

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/turnout/turnout/plugins/sdk"
)

// PluginVersion is the version of the DC/OS backend plugins.
const PluginVersion = "0.1.0"

// Backend is what the three DC/OS backend plugins (minuteman, marathon-lb,
// marathon) share: configuration, one Marathon watcher per plugin process
// for all of its Watch calls, and snapshots streamed from the model. Each
// plugin brings its scheme and how a reference resolves.
type Backend struct {
	Name, Scheme, Description string
	// Target parses a reference into its resolver; an error is a
	// malformed reference, prefixed with the plugin's name. AppTarget
	// makes it for references to one app.
	Target func(cfg Config, ref string) (Resolve, error)

	shared Shared
	mu     sync.Mutex
	cfg    Config
	set    bool
	closed bool
}

// NewBackend is the Backend of a plugin named after its scheme.
func NewBackend(scheme, description string, target func(cfg Config, ref string) (Resolve, error)) *Backend {
	return &Backend{Name: scheme, Scheme: scheme, Description: description, Target: target}
}

// AppTarget is the Target of a plugin whose references are
// "/app-id[:n]" to one Marathon app (see ParseRef), in the plugin's
// scheme. check, when not nil, refuses a reference that parses but that
// the plugin cannot serve; its error says why, prefixed with the
// plugin's name. resolve is what the reference r resolves to in the
// model m, where its app is a: a reference to an app the model lacks
// resolves to no endpoints, with the reason. cfg is the plugin's
// configuration, its defaults filled in.
func AppTarget(scheme string, check func(ref string, r Ref) error, resolve func(cfg Config, m *Model, a *App, r Ref) Resolution) func(cfg Config, ref string) (Resolve, error) {
	return func(cfg Config, ref string) (Resolve, error) {
		r, err := ParseRef(scheme, ref)
		if err != nil {
			return nil, err
		}
		if check != nil {
			if err := check(ref, r); err != nil {
				return nil, err
			}
		}
		cfg = cfg.WithDefaults()
		return func(m *Model) Resolution {
			a, ok := m.App(r.AppID)
			if !ok {
				return Resolution{Reason: fmt.Sprintf("app %s not found in Marathon", r.AppID)}
			}
			r, why := r.byName(a)
			if why != "" {
				return Resolution{Reason: why}
			}
			return resolve(cfg, m, a, r)
		}, nil
	}
}

// Info describes the plugin.
func (b *Backend) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: b.Name, Kind: sdk.KindBackend, Version: PluginVersion,
		Schemes: []string{b.Scheme}, Description: b.Description}, nil
}

// Configure reads the JSON configuration (see Config).
func (b *Backend) Configure(_ context.Context, raw json.RawMessage) error {
	c, err := b.shared.Configure(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", b.Name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cfg, b.set = c, true
	return nil
}

// Watch streams a target's snapshots until ctx ends.
func (b *Backend) Watch(ctx context.Context, target sdk.Target) (<-chan sdk.Snapshot, error) {
	if target.Scheme != b.Scheme {
		return nil, fmt.Errorf("%s: scheme %q is not %s", b.Name, target.Scheme, b.Scheme)
	}
	b.mu.Lock()
	if !b.set {
		b.cfg, b.set = Config{}.WithDefaults(), true
	}
	cfg, closed := b.cfg, b.closed
	b.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("%s: plugin closed", b.Name)
	}
	resolve, err := b.Target(cfg, target.Ref)
	if err != nil {
		return nil, err
	}
	w, err := b.shared.Get()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name, err)
	}
	return Snapshots(ctx, w, resolve), nil
}

// Watcher is the plugin's Marathon watcher, started on first use.
func (b *Backend) Watcher() (*Watcher, error) { return b.shared.Get() }

// Close stops the watcher; Watch channels close as their contexts end.
func (b *Backend) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return b.shared.Close()
}
