package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/turnout/turnout/plugins/sdk"
)

// checkTargetWait bounds how long CheckTarget waits for the plugin to run
// and answer (a plugin a gateway names first starts now).
var checkTargetWait = 10 * time.Second

// CheckTarget asks a target's backend plugin whether it can watch the
// target at all, so that a gateway naming a reference the plugin refuses
// (a malformed one, an unknown query key) is refused when it is applied
// rather than accepted and then held. A target watched and resolved
// already passes; a plugin that does not run or answer within
// checkTargetWait, or whose source is unreachable, cannot say, and the
// target passes (its route is held, saying why, until it resolves).
func (h *Host) CheckTarget(t sdk.Target) error {
	h.mu.Lock()
	w, ok := h.watches[t.String()]
	resolved := ok && w.res.Received
	ctx := h.ctx
	h.mu.Unlock()
	if resolved || ctx == nil || h.CheckScheme(t.Scheme) != nil {
		return nil // CheckScheme says why a scheme cannot be served
	}
	in, err := h.backend(t.Scheme)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, checkTargetWait)
	defer cancel()
	for {
		impl, changed := in.current()
		if impl != nil {
			ch, err := impl.(sdk.Backend).Watch(ctx, t)
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, sdk.ErrUnavailable) {
					return nil
				}
				return fmt.Errorf("target %s: %w", t, err)
			}
			cancel()
			go func() {
				for range ch { // closed once ctx is canceled
				}
			}()
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}
