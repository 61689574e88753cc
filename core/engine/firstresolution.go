package engine

import (
	"context"
	"time"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/plugins/sdk"
)

// AwaitFirstResolutions starts watching the plugin targets of gws and
// waits, at most max, until each has its plugin's first word: a snapshot,
// an error, or a plugin that will not run. Called before the first table
// binds the ports, it keeps a start from answering 503 for a route that
// exists, only because its plugin has not answered yet. It returns the
// targets still waiting when max passed (they are held, as before).
func (e *Engine) AwaitFirstResolutions(ctx context.Context, gws []*gateway.Gateway, max time.Duration) []sdk.Target {
	if e.opts.Backends == nil {
		return nil
	}
	targets := pluginTargets(gws)
	if len(targets) == 0 {
		return nil
	}
	e.opts.Backends.SyncTargets(targets)
	ctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var waiting []sdk.Target
		for _, t := range targets {
			if e.opts.Backends.CheckScheme(t.Scheme) != nil {
				continue // no plugin will answer: held with the reason
			}
			if res, ok := e.opts.Backends.Resolve(t); !ok || !res.Received && !res.Refused {
				waiting = append(waiting, t)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return waiting
		case <-tick.C:
		}
	}
}
