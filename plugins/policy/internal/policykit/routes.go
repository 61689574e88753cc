package policykit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/turnout/turnout/plugins/sdk"
)

// Route is one of the two routes a policy moves traffic between, as its
// policy section names it.
type Route struct {
	// Key is its key in the policy section ("stable"); Name the route.
	Key, Name string
	// Role says what the route is, for the error when it is not given
	// ("the route that has the traffic now").
	Role string
}

// CheckRoutes checks a policy's two routes: both given, not the same,
// and, when routes (the gateway's route names) is not nil, among them.
func CheckRoutes(who string, a, b Route, routes []string) error {
	for _, r := range []Route{a, b} {
		if r.Name == "" {
			return fmt.Errorf("%s: %s is required: %s", who, r.Key, r.Role)
		}
	}
	if a.Name == b.Name {
		return fmt.Errorf("%s: %s and %s are the same route %q", who, a.Key, b.Key, a.Name)
	}
	if routes == nil {
		return nil
	}
	for _, r := range []Route{a, b} {
		if !slices.Contains(routes, r.Name) {
			return fmt.Errorf("%s: %s: %q is not a route of the gateway (its routes: %s)", who, r.Key, r.Name, quoteAll(routes))
		}
	}
	return nil
}

// Split finds a policy's two routes among a decision's and the share
// they split between them: 100% less the weights of the gateway's other
// routes, which are left alone.
func Split(who string, in sdk.Input, a, b Route) (am, bm sdk.RouteMetrics, share int, err error) {
	var ok bool
	if am, ok = in.Route(a.Name); !ok {
		return am, bm, 0, fmt.Errorf("%s: %s route %q is not among the gateway's routes", who, a.Key, a.Name)
	}
	if bm, ok = in.Route(b.Name); !ok {
		return am, bm, 0, fmt.Errorf("%s: %s route %q is not among the gateway's routes", who, b.Key, b.Name)
	}
	share = sdk.Percent(100)
	for _, m := range in.Routes {
		if m.Route != a.Name && m.Route != b.Name {
			share -= m.Weight
		}
	}
	return am, bm, max(share, 0), nil
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}
