package filesource

import (
	"context"
	"fmt"
	"sync"

	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

// ToStore returns an Apply that writes a file's gateways into the store:
// the file's gateways replace the stored ones of the same name, gateways
// that an earlier version of the file had and this one dropped are
// deleted, and gateways created through the API are left alone. The whole
// resulting set is checked first (check: Engine.Check), so a file that
// would take a port another gateway holds is refused and nothing is
// written. limits refuse a file that takes a gateway over the routes, or
// the agent over the gateways, it may have, nothing written either. The
// writes are one atomic batch.
func ToStore(st store.Store, check func([]*gateway.Gateway) error, limits engine.Limits) Apply {
	var mu sync.Mutex
	owned := map[string]bool{} // gateways the file put in the store
	return func(gws []*gateway.Gateway) error {
		mu.Lock()
		defer mu.Unlock()
		ctx := context.Background()
		snap, err := st.Snapshot(ctx)
		if err != nil {
			return err
		}
		current, err := engine.Decode(snap)
		if err != nil {
			return err
		}
		inFile := map[string]bool{}
		for _, g := range gws {
			inFile[g.Name] = true
		}
		stored := make(map[string]*gateway.Gateway, len(current))
		for _, c := range current {
			stored[c.Name] = c
		}
		for _, g := range gws {
			if c, ok := stored[g.Name]; ok {
				g.KeepPolicyWeights(c) // a running policy owns the weights
			}
		}
		candidate := append([]*gateway.Gateway(nil), gws...)
		var changes []store.Change
		for _, g := range current {
			switch {
			case inFile[g.Name]:
			case owned[g.Name]:
				changes = append(changes, store.Change{Name: g.Name, Match: store.Any}) // dropped from the file
			default:
				candidate = append(candidate, g)
			}
		}
		if err := limits.Check(current, candidate); err != nil {
			return err
		}
		if err := check(candidate); err != nil {
			return err
		}
		for _, g := range gws {
			// MarshalJSON itself, not json.Marshal, which would escape
			// "&&" in conditions and make equal gateways differ in bytes.
			doc, err := g.MarshalJSON()
			if err != nil {
				return fmt.Errorf("encode gateway %q: %w", g.Name, err)
			}
			changes = append(changes, store.Change{Name: g.Name, Doc: doc, Match: store.Any})
		}
		if _, err := st.Apply(ctx, changes); err != nil {
			return err
		}
		owned = inFile
		return nil
	}
}
