package engine

import (
	"context"
	"fmt"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

// Follow keeps the engine on the store's desired state until ctx ends: the
// one-way flow of the control plane (the API and the file source write the
// store; the engine follows its snapshots). applied is called after every
// snapshot with its version and the error of putting it in service, if
// any; the previous gateways keep serving after an error. Snapshots up to
// version after (the one put in service at start) are skipped.
func (e *Engine) Follow(ctx context.Context, st store.Store, after int64, applied func(version int64, err error)) {
	for snap := range st.Watch(ctx) {
		if snap.Version <= after {
			continue
		}
		gws, err := e.docs.Decode(snap.Entries)
		if err == nil {
			err = e.SetVersion(gws, snap.Version)
		}
		if applied != nil {
			applied(snap.Version, err)
		}
	}
}

// Decode turns a store snapshot into gateways, decoding every entry
// (Follow decodes only what changed: see DocCache).
func Decode(snap store.Snapshot) ([]*gateway.Gateway, error) {
	gws := make([]*gateway.Gateway, 0, len(snap.Entries))
	for _, en := range snap.Entries {
		g, err := gateway.DecodeOne(en.Doc, "")
		if err != nil {
			return nil, fmt.Errorf("stored gateway %q revision %d: %w", en.Name, en.Revision, err)
		}
		gws = append(gws, g)
	}
	return gws, nil
}
