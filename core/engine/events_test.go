package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/core/pluginhost"
	"github.com/turnout/turnout/plugins/sdk"
)

// TestPublishStatuses: a table going into service publishes a route held
// or released by readiness, and the healthy endpoints added or removed,
// once, against the table before; unchanged gateways publish nothing.
func TestPublishStatuses(t *testing.T) {
	res := func(addrs ...string) *pluginhost.Resolution {
		r := &pluginhost.Resolution{Target: sdk.Target{Scheme: "marathon", Ref: "/shop/v2"}}
		for _, a := range addrs {
			r.Endpoints = append(r.Endpoints, sdk.Endpoint{Address: a, Healthy: a != "10.0.0.9:80"})
		}
		return r
	}
	route := func(held string, r *pluginhost.Resolution) []RouteStatus {
		return []RouteStatus{{Gateway: "shop", Route: "v2", Held: held, Resolution: r}}
	}
	same := route("", res("10.0.0.1:80"))
	for _, c := range []struct {
		name       string
		prev, next map[string][]RouteStatus
		want       []string
	}{
		{"first table, held", nil, map[string][]RouteStatus{"shop": route("not ready: deploying", res())},
			[]string{"route.held v2 not ready: deploying"}},
		{"released with endpoints", map[string][]RouteStatus{"shop": route("not ready: deploying", res())},
			map[string][]RouteStatus{"shop": route("", res("10.0.0.1:80", "10.0.0.2:80", "10.0.0.9:80"))},
			[]string{"route.released v2 was held: not ready: deploying", "endpoints.added v2 [10.0.0.1:80 10.0.0.2:80]"}},
		{"one replaced", map[string][]RouteStatus{"shop": route("", res("10.0.0.1:80", "10.0.0.2:80"))},
			map[string][]RouteStatus{"shop": route("", res("10.0.0.2:80", "10.0.0.3:80"))},
			[]string{"endpoints.added v2 [10.0.0.3:80]", "endpoints.removed v2 [10.0.0.1:80]"}},
		{"unhealthy ones do not count", map[string][]RouteStatus{"shop": route("", res("10.0.0.1:80"))},
			map[string][]RouteStatus{"shop": route("", res("10.0.0.1:80", "10.0.0.9:80"))}, nil},
		{"reused statuses", map[string][]RouteStatus{"shop": same}, map[string][]RouteStatus{"shop": same}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			bus := events.New(0, 0)
			sub, _, _ := bus.Subscribe(events.Filter{}, 0, false)
			e := &Engine{opts: Options{Events: bus}}
			e.publishStatuses(c.prev, c.next)
			bus.Close()
			var got []string
			for ev := range sub.C() {
				s := fmt.Sprintf("%s %s %s", ev.Type, ev.Route, ev.Reason)
				if ev.Data != nil {
					b, _ := json.Marshal(ev.Data)
					var d endpointsEvent
					json.Unmarshal(b, &d)
					s = fmt.Sprintf("%s %s %v", ev.Type, ev.Route, d.Endpoints)
					if d.Target != "marathon:/shop/v2" {
						t.Errorf("target %q", d.Target)
					}
				}
				got = append(got, s)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %q\nwant %q", got, c.want)
			}
		})
	}
}
