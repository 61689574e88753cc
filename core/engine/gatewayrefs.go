package engine

import (
	"net"
	"strconv"

	"github.com/turnout/turnout/core/gateway"
)

// gatewayRefs resolves Vamp's gateway references (a route key naming
// another gateway): the route's share goes to that gateway's own port on
// this process's data plane, where its routes, conditions and stickiness
// apply as they do to any request. Loops are refused with the artefacts
// (gateway.ValidateSet); a reference to a gateway that is not in service
// holds its route at 0, like a backend that is not ready.
type gatewayRefs struct {
	ports map[string]int
	host  string
}

func newGatewayRefs(gws []*gateway.Gateway, host string) gatewayRefs {
	ports := make(map[string]int)
	for _, g := range gws {
		for _, r := range g.Routes {
			if r.Target.Kind == gateway.GatewayRef {
				ports[r.Target.Ref] = 0
			}
		}
	}
	if len(ports) == 0 {
		return gatewayRefs{}
	}
	for _, g := range gws {
		if _, ok := ports[g.Name]; ok {
			ports[g.Name] = g.Port.Number
		}
	}
	return gatewayRefs{ports: ports, host: host}
}

// held says why a route to the named gateway takes no traffic ("" if it
// can).
func (r gatewayRefs) held(name string) string {
	if r.ports[name] == 0 {
		return "no gateway named " + strconv.Quote(name) + " is in service"
	}
	return ""
}

func (r gatewayRefs) addrs(name string) []string {
	if p := r.ports[name]; p != 0 {
		return []string{net.JoinHostPort(r.host, strconv.Itoa(p))}
	}
	return nil
}
