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
	// malformed reference, prefixed with the plugin's name.
	Target func(cfg Config, ref string) (Resolve, error)

	shared Shared
	mu     sync.Mutex
	cfg    Config
	set    bool
	closed bool
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
