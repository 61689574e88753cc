package policy

import (
	"fmt"
	"sort"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/plugins/sdk"
)

// clamp checks a decision's weights and bounds them: known routes only,
// each within 0-100%, summing to 100%, and for a Step no route moving by
// more than the policy's MaxStep (the moves are scaled down together).
// Promote and Rollback move at once. It returns nil when the weights stay.
func clamp(g *gateway.Gateway, p *gateway.Policy, d sdk.Decision) (map[string]gateway.Weight, error) {
	switch d.Action {
	case sdk.Step, sdk.Promote, sdk.Rollback:
	case sdk.Hold, sdk.Pause:
		return nil, nil
	default:
		return nil, fmt.Errorf("policy %s: unknown action %q", p.Type, d.Action)
	}
	if d.Weights == nil {
		return nil, nil
	}
	cur := make(map[string]gateway.Weight, len(g.Routes))
	for _, r := range g.Routes {
		cur[r.Name] = r.Weight
	}
	next := make(map[string]gateway.Weight, len(cur))
	for k, v := range cur {
		next[k] = v
	}
	for k, v := range d.Weights {
		if _, ok := cur[k]; !ok {
			return nil, fmt.Errorf("policy %s: weight for %q, which is not a route of the gateway", p.Type, k)
		}
		if v < 0 || v > int(gateway.Full) {
			return nil, fmt.Errorf("policy %s: weight %s for %q is outside 0-100%%", p.Type, gateway.Weight(v), k)
		}
		next[k] = gateway.Weight(v)
	}
	var sum gateway.Weight
	for _, v := range next {
		sum += v
	}
	if sum != gateway.Full {
		return nil, fmt.Errorf("policy %s: the weights sum to %s, not 100%%", p.Type, sum)
	}
	if d.Action != sdk.Step {
		return next, nil
	}
	var most gateway.Weight
	for k, v := range next {
		most = max(most, abs(v-cur[k]))
	}
	if most <= p.MaxStep {
		return next, nil
	}
	// Scale every move by MaxStep/most; the rounding remainder goes to the
	// routes that moved most, so the sum stays 100%.
	names := make([]string, 0, len(next))
	var rest gateway.Weight
	for k, v := range next {
		move := (v - cur[k]) * p.MaxStep / most
		next[k] = cur[k] + move
		rest -= move
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := abs(next[names[i]]-cur[names[i]]), abs(next[names[j]]-cur[names[j]])
		if a != b {
			return a > b
		}
		return names[i] < names[j]
	})
	for _, k := range names {
		if rest == 0 {
			break
		}
		step := gateway.Weight(1)
		if rest < 0 {
			step = -1
		}
		if n := next[k] + step; n >= 0 && n <= gateway.Full && abs(n-cur[k]) <= p.MaxStep {
			next[k] = n
			rest -= step
		}
	}
	return next, nil
}

func abs(w gateway.Weight) gateway.Weight {
	if w < 0 {
		return -w
	}
	return w
}
