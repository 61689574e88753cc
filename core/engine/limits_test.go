package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/turnout/turnout/core/gateway"
)

// set makes gateways "name:routes", e.g. set("a:3", "b:1").
func set(specs ...string) []*gateway.Gateway {
	var out []*gateway.Gateway
	for _, s := range specs {
		var name string
		var n int
		fmt.Sscanf(strings.Replace(s, ":", " ", 1), "%s %d", &name, &n)
		g := &gateway.Gateway{Name: name}
		for i := range n {
			g.Routes = append(g.Routes, gateway.Route{Name: fmt.Sprintf("[127.0.0.1:%d]", 20000+i)})
		}
		out = append(out, g)
	}
	return out
}

func TestLimitsCheck(t *testing.T) {
	for _, tc := range []struct {
		name       string
		limits     Limits
		prev, next []*gateway.Gateway
		want       []string // the refusals' messages, in order; none: accepted
	}{
		{"no limits", Limits{}, nil, set("a:5000", "b:1", "c:1"), nil},
		{"at the route limit", Limits{MaxRoutesPerGateway: 3}, nil, set("a:3"), nil},
		{"over the route limit", Limits{MaxRoutesPerGateway: 3}, nil, set("a:4"),
			[]string{`gateway "a" has 4 routes, over the limit of 3 routes per gateway (--max-routes-per-gateway): over a configured limit`}},
		{"every gateway over it is named", Limits{MaxRoutesPerGateway: 3}, set("ok:1"), set("a:4", "ok:1", "b:9"),
			[]string{`gateway "a" has 4 routes`, `gateway "b" has 9 routes`}},
		{"a gateway growing past it", Limits{MaxRoutesPerGateway: 3}, set("a:3"), set("a:4"),
			[]string{`gateway "a" has 4 routes`}},
		{"over it before (limit lowered): may stay", Limits{MaxRoutesPerGateway: 3}, set("a:10"), set("a:10", "b:1"), nil},
		{"over it before: may shrink", Limits{MaxRoutesPerGateway: 3}, set("a:10"), set("a:7"), nil},
		{"over it before: may not grow", Limits{MaxRoutesPerGateway: 3}, set("a:10"), set("a:11"),
			[]string{`gateway "a" has 11 routes, over the limit of 3`}},
		{"another gateway's size does not count", Limits{MaxRoutesPerGateway: 3}, set("a:10"), set("b:10"),
			[]string{`gateway "b" has 10 routes`}},
		{"at the gateway limit", Limits{MaxGateways: 2}, set("a:1"), set("a:1", "b:1"), nil},
		{"over the gateway limit", Limits{MaxGateways: 2}, set("a:1", "b:1"), set("a:1", "b:1", "c:1"),
			[]string{`gateway "c" would make 3 gateways on this agent, over the limit of 2 (--max-gateways): over a configured limit`}},
		{"over it before: replacing one is fine", Limits{MaxGateways: 2}, set("a:1", "b:1", "c:1"), set("a:2", "b:1", "c:1"), nil},
		{"over it before: swapping one for another is fine", Limits{MaxGateways: 2}, set("a:1", "b:1", "c:1"), set("a:1", "b:1", "d:1"), nil},
		{"over it before: may not grow", Limits{MaxGateways: 2}, set("a:1", "b:1", "c:1"), set("a:1", "b:1", "c:1", "d:1"),
			[]string{`gateway "d" would make 4 gateways`}},
		{"both limits", Limits{MaxRoutesPerGateway: 1, MaxGateways: 1}, nil, set("a:2", "b:1"),
			[]string{`gateway "a" has 2 routes`, `gateway "b" would make 2 gateways`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.limits.Check(tc.prev, tc.next)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("got %v, want an error wrapping ErrLimit", err)
			}
			var le *LimitError
			if !errors.As(err, &le) || le.Limit == 0 || le.Count <= le.Limit {
				t.Fatalf("no *LimitError with the count over the limit in %v", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d refusals, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("refusal %d: %q, want it to start with %q", i, lines[i], w)
				}
			}
		})
	}
}
