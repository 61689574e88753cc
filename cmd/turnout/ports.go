package main

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/turnout/turnout/core/ports"
	"github.com/turnout/turnout/internal/marathon"
)

// portGuard knows which ports Marathon-LB and the apps it exposes hold,
// from a Marathon watcher, so a gateway is never given one of them.
type portGuard struct {
	table atomic.Pointer[ports.Table]
}

// newPortGuard watches Marathon when it is configured (--marathon-url or
// TURNOUT_MARATHON_URL); without it, nil: no port is held by Marathon.
func newPortGuard(ctx context.Context, f pluginFlags, cfg ports.Config, log *slog.Logger) (*portGuard, error) {
	raw, err := pluginConfigs(f)
	if err != nil {
		return nil, err
	}
	mc, ok := raw["marathon"]
	if !ok {
		return nil, nil
	}
	c, err := marathon.ParseConfig(mc)
	if err != nil {
		return nil, err
	}
	w, err := marathon.NewWatcher(c, log.With("component", "ports"))
	if err != nil {
		return nil, err
	}
	g := &portGuard{}
	g.table.Store(ports.NewTable(cfg, nil))
	changed, cancel := w.Subscribe()
	go func() {
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case <-changed:
				g.table.Store(ports.NewTable(cfg, w.Model()))
			}
		}
	}()
	go func() { _ = w.Run(ctx) }()
	return g, nil
}

// Owner is who on the Marathon side holds port.
func (g *portGuard) Owner(port int) (string, bool) {
	return g.table.Load().Owner(port)
}
