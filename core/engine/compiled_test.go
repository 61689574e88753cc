package engine

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnout/turnout/core/routing"
	"github.com/turnout/turnout/core/store"
	"github.com/turnout/turnout/internal/testnet"
)

// TestOneChangeCompilesOneGateway follows a store of many gateways and
// makes one change at a time: a weight moved, a gateway added, one deleted,
// a rebuild with nothing moved, a route target's name resolving elsewhere. Each must decode and compile only the
// gateways it changed (counted, not timed), leave every other gateway's
// compiled state in the new table as it was (the same object, so the same
// metric series and counters), and keep the changed gateway's metric
// series: its counters must not reset either.
func TestOneChangeCompilesOneGateway(t *testing.T) {
	const n = 20
	eng, dp := newEngine(t)
	// gw-dns's target is a name; what it resolves to moves in one case.
	var dnsAnswer atomic.Value
	dnsAnswer.Store(netip.MustParseAddr("127.0.0.2"))
	eng.res.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		if host != "svc.test" {
			return nil, fmt.Errorf("no such name %q", host)
		}
		return []netip.Addr{dnsAnswer.Load().(netip.Addr)}, nil
	}
	st := store.NewMemory()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	applied := make(chan int64, 16)
	go eng.Follow(ctx, st, 0, func(v int64, err error) {
		if err != nil {
			t.Errorf("store version %d not put in service: %v", v, err)
		}
		applied <- v
	})

	ports := map[string]int{}
	doc := func(name string, w int) []byte {
		if ports[name] == 0 {
			ports[name] = testnet.FreePort(t)
		}
		return fmt.Appendf(nil, "name: %s\nport: %d/http\nroutes:\n  \"[127.0.0.1:21001]\":\n    weight: %d%%\n  \"[127.0.0.1:21002]\":\n    weight: %d%%\n",
			name, ports[name], 100-w, w)
	}
	var all []store.Change
	for i := range n {
		name := fmt.Sprintf("gw-%d", i)
		all = append(all, store.Change{Name: name, Doc: doc(name, 0), Match: store.Any})
	}
	write := func(changes ...store.Change) {
		t.Helper()
		if _, err := st.Apply(ctx, changes); err != nil {
			t.Fatal(err)
		}
		snap, err := st.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		awaitVersion(t, applied, snap.Version)
	}
	ports["gw-dns"] = testnet.FreePort(t)
	all = append(all, store.Change{Name: "gw-dns", Match: store.Any,
		Doc: fmt.Appendf(nil, "name: gw-dns\nport: %d/http\nroutes:\n  \"[svc.test:21003]\":\n    weight: 100%%\n", ports["gw-dns"])})
	write(all...)
	if got := eng.Compiled(); got != n+1 {
		t.Fatalf("first table: %d gateways compiled, want %d", got, n+1)
	}

	tests := []struct {
		name    string
		change  func()
		changed string // the gateway compiled again ("" for none)
		gone    string // the gateway no longer in service ("" for none)
		decoded int
	}{
		{"weight of one gateway moved", func() { write(store.Change{Name: "gw-3", Doc: doc("gw-3", 30), Match: store.Any}) }, "gw-3", "", 1},
		{"one gateway added", func() { write(store.Change{Name: "gw-new", Doc: doc("gw-new", 0), Match: store.Any}) }, "gw-new", "", 1},
		{"one gateway deleted", func() { write(store.Change{Name: "gw-5", Match: store.Any}) }, "", "gw-5", 0},
		{"rebuild with no endpoint moved", eng.rebuild, "", "", 0},
		{"a name resolves to another address", func() {
			dnsAnswer.Store(netip.MustParseAddr("127.0.0.3"))
			eng.res.refresh() // the DNS refresh: it rebuilds when a name moved
		}, "gw-dns", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := byName(dp.Table())
			for _, g := range before {
				for _, r := range g.Routes {
					r.Metrics.Observe(200, time.Millisecond)
				}
			}
			compiled, decoded := eng.Compiled(), decodes(eng)
			tc.change()
			after := byName(dp.Table())

			want := 0
			if tc.changed != "" {
				want = 1
			}
			if got := eng.Compiled() - compiled; got != want {
				t.Errorf("%d gateways compiled, want %d", got, want)
			}
			if got := decodes(eng) - decoded; got != tc.decoded {
				t.Errorf("%d store entries decoded, want %d", got, tc.decoded)
			}
			for name, g := range before {
				switch name {
				case tc.gone:
					if after[name] != nil {
						t.Errorf("deleted gateway %s still in the table", name)
					}
				case tc.changed:
					a := after[name]
					if a == g {
						t.Fatalf("changed gateway %s: the old compiled state was kept", name)
					}
					for i, r := range a.Routes {
						if now, was := r.Metrics.Totals().Count, g.Routes[i].Metrics.Totals().Count; now != was || now == 0 {
							t.Errorf("changed gateway %s: route %s counts %d requests, had %d: its series were reset", name, r.Name, now, was)
						}
					}
				default:
					if after[name] != g {
						t.Errorf("unchanged gateway %s was compiled again", name)
					}
				}
			}
			if tc.changed == "gw-3" {
				if w := after["gw-3"].Routes[1].Weight.String(); w != "30%" {
					t.Errorf("gw-3's second route has weight %s in service, want 30%%", w)
				}
			}
			if tc.changed == "gw-dns" {
				if eps := after["gw-dns"].Routes[0].Endpoints; len(eps) != 1 || eps[0].Addr != "127.0.0.3:21003" {
					t.Errorf("gw-dns's endpoints after the name moved: %v, want 127.0.0.3:21003", eps)
				}
			}
			if tc.changed == "gw-new" && after["gw-new"] == nil {
				t.Errorf("added gateway gw-new is not in the table")
			}
		})
	}
}

func byName(t *routing.Table) map[string]*routing.Gateway {
	m := map[string]*routing.Gateway{}
	for _, g := range t.Gateways {
		m[g.Name] = g
	}
	return m
}

func decodes(e *Engine) int {
	e.docs.mu.Lock()
	defer e.docs.mu.Unlock()
	return e.docs.decodes
}

// awaitVersion waits until Follow reports store version v applied.
func awaitVersion(t *testing.T, applied <-chan int64, v int64) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-applied:
			if got >= v {
				return
			}
		case <-timeout:
			t.Fatalf("store version %d not applied within 10s", v)
		}
	}
}
