package pluginhost

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/turnout/turnout/plugins/sdk"
)

// Resolution is what a backend plugin last said about one target.
type Resolution struct {
	Target sdk.Target
	// Received is false until the first snapshot arrived.
	Received  bool
	Endpoints []sdk.Endpoint
	Ready     bool
	// EverReady latches once the target was ready while watched: a route
	// is held before its version is first ready, not when a later
	// deployment or a dead task makes the whole app "not ready" while
	// healthy endpoints remain.
	EverReady bool
	Reason    string
	// Stale is set while the endpoints may be out of date: the plugin is
	// down, or its source (Marathon, Consul) is unreachable. The last
	// endpoints keep serving.
	Stale bool
	// Error says why the target is stale or was refused.
	Error string
	// Refused is set while the plugin refuses the target itself (a
	// malformed reference, no plugin for it), as opposed to not answering
	// yet: waiting for its first snapshot is pointless.
	Refused bool
	// Updated is when the last snapshot arrived.
	Updated time.Time
}

// retryRefused is how long a target a plugin refused waits before it is
// asked again (the plugin may have been reconfigured or upgraded).
var retryRefused = 5 * time.Second

// watch follows one target through its plugin's restarts.
type watch struct {
	target sdk.Target
	// guarded by Host.mu
	cancel  context.CancelFunc
	claimed bool // startWatches has it: started, or being started
	res     Resolution
}

// SyncTargets makes the host watch exactly these targets: new ones start,
// gone ones stop. Targets whose scheme has no usable plugin are refused
// with the reason in their Resolution.
func (h *Host) SyncTargets(targets []sdk.Target) {
	want := map[string]sdk.Target{}
	for _, t := range targets {
		want[t.String()] = t
	}
	h.mu.Lock()
	for key, w := range h.watches {
		if _, ok := want[key]; !ok {
			if w.cancel != nil { // nil for a target no plugin took
				w.cancel()
			}
			delete(h.watches, key)
		}
	}
	var start []*watch
	for key, t := range want {
		if _, ok := h.watches[key]; ok {
			continue
		}
		w := &watch{target: t, res: Resolution{Target: t}}
		h.watches[key] = w
		start = append(start, w)
	}
	ctx := h.ctx
	h.mu.Unlock()
	h.startWatches(ctx, start)
}

// startWatches follows targets on their plugins; one whose scheme has no
// usable plugin is marked refused, and Reload tries it again.
func (h *Host) startWatches(ctx context.Context, start []*watch) {
	refuse := func(w *watch, err error) {
		h.update(w, func(r *Resolution) { r.Error, r.Refused = err.Error(), true })
		h.mu.Lock()
		w.claimed = false
		h.mu.Unlock()
	}
	for _, w := range start {
		h.mu.Lock()
		mine := !w.claimed && h.watches[w.target.String()] == w
		w.claimed = true
		h.mu.Unlock()
		if !mine {
			continue
		}
		if err := h.CheckScheme(w.target.Scheme); err != nil {
			refuse(w, err)
			continue
		}
		in, err := h.backend(w.target.Scheme)
		if err != nil {
			refuse(w, err)
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		h.mu.Lock()
		w.cancel = cancel
		h.mu.Unlock()
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.follow(wctx, w, in)
		}()
	}
}

// Resolve returns the last resolution of a watched target.
func (h *Host) Resolve(t sdk.Target) (Resolution, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w, ok := h.watches[t.String()]
	if !ok {
		return Resolution{}, false
	}
	return w.res, true
}

// Resolutions lists every watched target, by target.
func (h *Host) Resolutions() []Resolution {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Resolution, 0, len(h.watches))
	for _, w := range h.watches {
		out = append(out, w.res)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target.String() < out[j].Target.String() })
	return out
}

// follow watches one target on whatever instance of its plugin is running,
// keeping the last endpoints (stale) while there is none.
func (h *Host) follow(ctx context.Context, w *watch, in *instance) {
	for ctx.Err() == nil {
		impl, changed := in.current()
		if impl == nil {
			h.markStale(w, "the "+in.entry.ID()+" plugin is not running")
			select {
			case <-ctx.Done():
			case <-changed:
			}
			continue
		}
		ch, err := impl.(sdk.Backend).Watch(ctx, w.target)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, sdk.ErrUnavailable) {
				h.markStale(w, err.Error())
			} else {
				h.update(w, func(r *Resolution) { r.Error = err.Error(); r.Stale = r.Received; r.Refused = true })
			}
			select {
			case <-ctx.Done():
			case <-changed:
			case <-time.After(retryRefused):
			}
			continue
		}
		for snap := range ch {
			h.update(w, func(r *Resolution) {
				r.Received, r.Refused = true, false
				r.Endpoints = snap.Endpoints
				r.Ready = snap.Ready
				r.EverReady = r.EverReady || snap.Ready
				r.Reason = snap.Reason
				r.Error = snap.Error
				r.Stale = snap.Error != ""
				r.Updated = time.Now()
			})
		}
		// The stream ended without ctx ending: the plugin died or
		// restarts. Keep the endpoints until it is back.
		if ctx.Err() == nil {
			h.markStale(w, "the "+in.entry.ID()+" plugin stopped answering")
			select {
			case <-ctx.Done():
			case <-changed:
			case <-time.After(retryRefused):
			}
		}
	}
}

// markStale keeps the last endpoints and says why they may be out of
// date; before the first snapshot there is nothing to be stale.
func (h *Host) markStale(w *watch, why string) {
	h.update(w, func(r *Resolution) {
		r.Stale, r.Error = r.Received, why
	})
}

// update changes a watch's resolution and tells the engine, unless the
// watch was removed meanwhile.
func (h *Host) update(w *watch, f func(*Resolution)) {
	h.mu.Lock()
	if h.watches[w.target.String()] != w {
		h.mu.Unlock()
		return
	}
	before := w.res
	f(&w.res)
	after := w.res
	same := sameResolution(before, after)
	h.mu.Unlock()
	if same {
		return
	}
	switch t := after.Target.String(); {
	case after.Stale && !before.Stale:
		h.log.Warn("route target stale; its last endpoints keep serving", "target", t, "err", after.Error, "endpoints", len(after.Endpoints))
	case !after.Stale && before.Stale:
		h.log.Info("route target fresh again", "target", t, "endpoints", len(after.Endpoints))
	case after.Received && after.Ready != before.Ready:
		h.log.Info("route target readiness changed", "target", t, "ready", after.Ready, "reason", after.Reason)
	}
	h.opts.OnChange()
}

func sameResolution(a, b Resolution) bool {
	if a.Received != b.Received || a.Ready != b.Ready || a.Reason != b.Reason || a.Stale != b.Stale || a.Error != b.Error || len(a.Endpoints) != len(b.Endpoints) {
		return false
	}
	for i := range a.Endpoints {
		x, y := a.Endpoints[i], b.Endpoints[i]
		if x.Address != y.Address || x.Healthy != y.Healthy || x.Host != y.Host {
			return false
		}
	}
	return true
}
