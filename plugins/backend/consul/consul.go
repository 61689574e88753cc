// Package consul is Turnout's Consul discovery backend: it resolves
// "consul:NAME[?tag=T&dc=D&near=N&passing=false]" route targets to the
// service's instances, from Consul's health endpoint
// (/v1/health/service/NAME), watched with blocking queries.
//
// By default only instances passing every check (their node's serfHealth
// included) are listed, as Consul's ?passing does; passing=false lists
// all of them, each Healthy when every check passes. A target is ready
// when at least min_passing instances pass. See README.md for the labels,
// the configuration and examples.
//
// Every Watch of one query shares one blocking watch, so ten routes
// naming consul:web cost the agent one query at a time, not ten.
package consul

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/hashicorp/consul/api"
	"github.com/turnout/turnout/plugins/sdk"
)

// Version is the plugin's own version.
const Version = "0.1.0"

// Plugin is the Consul backend. It implements sdk.Backend.
type Plugin struct {
	mu       sync.Mutex
	set      settings
	client   *api.Client
	watches  map[string]*watch
	wg       sync.WaitGroup // every watch and subscriber goroutine
	closed   bool
	lifetime context.Context // parent of every watch; Close cancels it
	stop     context.CancelFunc
}

var _ sdk.Backend = (*Plugin)(nil)

// New returns an unconfigured plugin; Configure (or the first Watch, with
// an empty configuration) sets it up.
func New() *Plugin {
	ctx, cancel := context.WithCancel(context.Background())
	return &Plugin{watches: map[string]*watch{}, lifetime: ctx, stop: cancel}
}

// Info describes the plugin.
func (p *Plugin) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:        "consul",
		Kind:        sdk.KindBackend,
		Version:     Version,
		Schemes:     []string{"consul"},
		Description: "a Consul service's passing instances, watched with blocking queries",
	}, nil
}

// Configure reads the configuration JSON (see Config) over Consul's
// environment variables. Watches already running keep the client they
// started with.
func (p *Plugin) Configure(_ context.Context, raw json.RawMessage) error {
	set, err := parseConfig(raw)
	if err != nil {
		return err
	}
	client, err := api.NewClient(set.api)
	if err != nil {
		return fmt.Errorf("consul: client: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set, p.client = set, client
	return nil
}

// Watch streams the snapshots of a consul: target. Its error is a
// malformed ref; an unreachable agent or an unknown service is a snapshot.
func (p *Plugin) Watch(ctx context.Context, target sdk.Target) (<-chan sdk.Snapshot, error) {
	if target.Scheme != "consul" {
		return nil, fmt.Errorf("consul: scheme %q is not consul", target.Scheme)
	}
	q, err := parseRef(target.Ref)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	needConfig := p.client == nil
	p.mu.Unlock()
	if needConfig {
		if err := p.Configure(ctx, nil); err != nil {
			return nil, err
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("consul: plugin closed")
	}
	k := q.key()
	w := p.watches[k]
	if w == nil {
		w = newWatch(p.lifetime, q, p.client, p.set)
		p.watches[k] = w
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			w.run()
		}()
	}
	sub := w.subscribe()
	out := make(chan sdk.Snapshot)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(out)
		sub.forward(ctx, out)
		p.unsubscribe(k, w, sub)
	}()
	return out, nil
}

// unsubscribe drops a subscriber and stops its watch with the last one.
func (p *Plugin) unsubscribe(k string, w *watch, sub *subscriber) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.unsubscribe(sub) == 0 && p.watches[k] == w {
		delete(p.watches, k)
		w.cancel()
	}
}

// Close stops every watch, closes every Watch channel and waits for them.
func (p *Plugin) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.stop()
	p.wg.Wait()
	return nil
}
