package filesource

import (
	"context"
	"errors"
	"testing"

	"github.com/turnout/turnout/core/engine"
	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

// A file over the limits is refused whole, nothing written.
func TestToStoreRefusesAFileOverTheLimits(t *testing.T) {
	st := store.NewMemory()
	defer st.Close()
	ok := func([]*gateway.Gateway) error { return nil }
	apply := ToStore(st, ok, engine.Limits{MaxRoutesPerGateway: 2, MaxGateways: 2})
	if err := apply(gws(t, "name: a\nport: 9001\nroutes: [\"[a:1]\", \"[a:2]\"]\n")); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{
		"name: a\nport: 9001\nroutes: [\"[a:1]\", \"[a:2]\", \"[a:3]\"]\n",
		"name: a\nport: 9001\n---\nname: b\nport: 9002\n---\nname: c\nport: 9003\n",
	} {
		err := apply(gws(t, file))
		if !errors.Is(err, engine.ErrLimit) {
			t.Fatalf("%q: got %v, want a limit's refusal", file, err)
		}
		snap, _ := st.Snapshot(context.Background())
		if snap.Version != 1 {
			t.Fatalf("%q: store version %d after the refusal, want 1", file, snap.Version)
		}
	}
}
