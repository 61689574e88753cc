package marathon

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/turnout/turnout/plugins/sdk"
)

// Combined serves the schemes of several DC/OS backends (marathon:,
// minuteman:, marathon-lb:) from one plugin process, so that they share
// one Marathon watcher: one event stream and one model for all of their
// targets, where three plugin processes kept three streams and read
// everything three times.
//
// Its configuration is a JSON object with one member per scheme, each a
// Config, e.g. {"marathon": {"urls": [...]}, "marathon-lb":
// {"urls": [...], "marathon_lb_group": "internal"}}; a scheme left out
// has the defaults. Schemes whose Marathon settings (everything but
// marathon_lb_group) are the same share a watcher; different settings
// (another Marathon, another resync) get a watcher of their own.
type Combined struct {
	name, description string
	parts             map[string]*Backend // by scheme

	mu      sync.Mutex
	cfgs    map[string]Config  // by scheme, defaults filled in
	shared  map[string]*Shared // by Marathon settings (connKey)
	closed  bool
	schemes []string
}

// NewCombined serves the parts' schemes as one plugin named name; each
// part brings its scheme and how its references resolve (Backend.Target).
func NewCombined(name, description string, parts ...*Backend) *Combined {
	c := &Combined{name: name, description: description, parts: map[string]*Backend{},
		cfgs: map[string]Config{}, shared: map[string]*Shared{}}
	for _, p := range parts {
		c.parts[p.Scheme] = p
		c.schemes = append(c.schemes, p.Scheme)
	}
	return c
}

// Info describes the plugin: its name and every scheme it serves.
func (c *Combined) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: c.name, Kind: sdk.KindBackend, Version: PluginVersion,
		Schemes: slices.Clone(c.schemes), Description: c.description}, nil
}

// Configure reads the per-scheme configurations (see Combined).
func (c *Combined) Configure(_ context.Context, raw json.RawMessage) error {
	var members map[string]json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &members); err != nil {
			return fmt.Errorf("%s: configuration: want an object with a member per scheme (%v): %w", c.name, c.schemes, err)
		}
	}
	cfgs := map[string]Config{}
	for scheme, m := range members {
		if _, ok := c.parts[scheme]; !ok {
			return fmt.Errorf("%s: configuration: %q is not one of its schemes %v", c.name, scheme, c.schemes)
		}
		cfg, err := ParseConfig(m)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", c.name, scheme, err)
		}
		cfgs[scheme] = cfg
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.shared) > 0 {
		return fmt.Errorf("%s: configuration: already watching Marathon", c.name)
	}
	c.cfgs = cfgs
	return nil
}

// Watch streams a target's snapshots until ctx ends, from the watcher of
// its scheme's Marathon settings.
func (c *Combined) Watch(ctx context.Context, target sdk.Target) (<-chan sdk.Snapshot, error) {
	p, ok := c.parts[target.Scheme]
	if !ok {
		return nil, fmt.Errorf("%s: scheme %q is not one of %v", c.name, target.Scheme, c.schemes)
	}
	c.mu.Lock()
	cfg, ok := c.cfgs[target.Scheme]
	if !ok {
		cfg = Config{}.WithDefaults()
	}
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("%s: plugin closed", c.name)
	}
	key := connKey(cfg)
	s, ok := c.shared[key]
	if !ok {
		s = &Shared{cfg: cfg}
		c.shared[key] = s
	}
	c.mu.Unlock()
	resolve, err := p.Target(cfg, target.Ref)
	if err != nil {
		return nil, err
	}
	w, err := s.Get()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	return Snapshots(ctx, w, resolve), nil
}

// Watchers are the watchers running, one per distinct Marathon setting.
func (c *Combined) Watchers() []*Watcher {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Watcher
	for _, s := range c.shared {
		s.mu.Lock()
		if s.w != nil {
			out = append(out, s.w)
		}
		s.mu.Unlock()
	}
	return out
}

// Close stops the watchers; Watch channels close as their contexts end.
func (c *Combined) Close() error {
	c.mu.Lock()
	c.closed = true
	shared := c.shared
	c.mu.Unlock()
	for _, s := range shared {
		s.Close()
	}
	return nil
}

// connKey is what decides whether two configurations can share a
// watcher: every setting but the Marathon-LB group, which only the
// marathon-lb scheme's resolution reads.
func connKey(c Config) string {
	c.MarathonLBGroup = ""
	b, _ := json.Marshal(c)
	return string(b)
}
