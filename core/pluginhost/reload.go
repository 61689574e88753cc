package pluginhost

import (
	"context"
	"time"

	"github.com/fsnotify/fsnotify"
)

// settle is how long the plugin directory must stay quiet after a change
// before it is read again: copying a plugin in is many writes, and a
// half-written file would be refused for its checksum.
const settle = 250 * time.Millisecond

// watchDir reads the plugin directory again after every change to it,
// until ctx ends, so that an operator fixing a refused plugin's file
// (the right binary, its permissions) needs no restart of Turnout.
func (h *Host) watchDir(ctx context.Context, dir string) {
	w, err := fsnotify.NewWatcher()
	if err == nil {
		err = w.Add(dir)
	}
	if err != nil {
		h.log.Error("plugin directory not watched: a fixed plugin file is seen only at the next start", "dir", dir, "err", err)
		if w != nil {
			w.Close()
		}
		return
	}
	defer w.Close()
	quiet := time.NewTimer(settle)
	quiet.Stop()
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			h.log.Warn("plugin directory watch", "dir", dir, "err", err)
		case _, ok := <-w.Events:
			if !ok {
				return
			}
			quiet.Reset(settle)
		case <-quiet.C:
			h.Reload()
		}
	}
}

// Reload reads the plugin directory again and retries what its files
// refused: a plugin that was refused and now verifies starts (its waiting
// routes and policies get it), and targets refused for want of a usable
// plugin are watched again.
func (h *Host) Reload() {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	if err := h.opts.Catalog.Rescan(); err != nil {
		h.log.Error("plugin directory not read again; the catalog stays as it was", "err", err)
		return
	}
	h.mu.Lock()
	ctx := h.ctx
	revive := map[*instance]Entry{}
	for id, in := range h.instances {
		if e, ok := h.opts.Catalog.byID(id); ok && e.Refused == nil && in.status().State == StateRefused {
			revive[in] = e
		}
	}
	var refused []*watch
	for _, w := range h.watches {
		if !w.claimed {
			refused = append(refused, w)
		}
	}
	h.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return
	}
	for in, e := range revive {
		h.log.Info("plugin file accepted; starting it", "plugin", e.ID(), "path", e.Path)
		in.revive(e)
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			in.run(ctx)
		}()
	}
	h.startWatches(ctx, refused)
}

// byID is the entry of a plugin by "KIND/NAME".
func (c *Catalog) byID(id string) (Entry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[id]
	return e, ok
}

// revive takes a new, usable entry for an instance whose run returned
// refused; run must be called again.
func (in *instance) revive(e Entry) {
	in.set(func() { in.entry, in.state, in.lastErr = e, StateStarting, "" })
}
