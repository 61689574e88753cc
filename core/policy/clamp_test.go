package policy

import (
	"fmt"
	"maps"
	"testing"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/plugins/sdk"
)

func TestClamp(t *testing.T) {
	gw := func(weights ...gateway.Weight) *gateway.Gateway {
		g := &gateway.Gateway{Name: "shop"}
		for i, w := range weights {
			g.Routes = append(g.Routes, gateway.Route{Name: fmt.Sprintf("r%d", i), Weight: w})
		}
		return g
	}
	pol := &gateway.Policy{Type: "canary", MaxStep: 1000}
	for _, c := range []struct {
		name string
		g    *gateway.Gateway
		d    sdk.Decision
		want map[string]gateway.Weight
		err  string
	}{
		{"hold keeps", gw(10000, 0), sdk.Decision{Action: sdk.Hold, Weights: map[string]int{"r1": 5000}}, nil, ""},
		{"step within the limit", gw(9000, 1000), sdk.Decision{Action: sdk.Step, Weights: map[string]int{"r0": 8000, "r1": 2000}},
			map[string]gateway.Weight{"r0": 8000, "r1": 2000}, ""},
		{"step beyond the limit is scaled", gw(10000, 0), sdk.Decision{Action: sdk.Step, Weights: map[string]int{"r0": 5000, "r1": 5000}},
			map[string]gateway.Weight{"r0": 9000, "r1": 1000}, ""},
		{"three routes scaled, sum kept", gw(10000, 0, 0), sdk.Decision{Action: sdk.Step, Weights: map[string]int{"r0": 7000, "r1": 1500, "r2": 1500}},
			map[string]gateway.Weight{"r0": 9000, "r1": 500, "r2": 500}, ""},
		{"promote moves at once", gw(9000, 1000), sdk.Decision{Action: sdk.Promote, Weights: map[string]int{"r0": 0, "r1": 10000}},
			map[string]gateway.Weight{"r0": 0, "r1": 10000}, ""},
		{"rollback moves at once", gw(5000, 5000), sdk.Decision{Action: sdk.Rollback, Weights: map[string]int{"r0": 10000, "r1": 0}},
			map[string]gateway.Weight{"r0": 10000, "r1": 0}, ""},
		{"unknown route", gw(10000, 0), sdk.Decision{Action: sdk.Step, Weights: map[string]int{"r9": 100}}, nil,
			`policy canary: weight for "r9", which is not a route of the gateway`},
		{"out of range", gw(10000, 0), sdk.Decision{Action: sdk.Step, Weights: map[string]int{"r1": 10001}}, nil,
			`policy canary: weight 100.01% for "r1" is outside 0-100%`},
		{"sum not 100", gw(10000, 0), sdk.Decision{Action: sdk.Step, Weights: map[string]int{"r1": 500}}, nil,
			`policy canary: the weights sum to 105%, not 100%`},
		{"unknown action", gw(10000, 0), sdk.Decision{Action: "jump"}, nil, `policy canary: unknown action "jump"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := clamp(c.g, pol, c.d)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}
