package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"go.yaml.in/yaml/v3"
)

// Policy is a gateway's `policy:` section: the policy plugin that drives
// its weights, and how. The core reads type, interval and the step limit;
// the whole section goes to the plugin as its configuration.
type Policy struct {
	// Type names the policy plugin ("canary", "bluegreen", a third party's).
	Type string
	// Interval is how often the policy decides (default 30s).
	Interval time.Duration
	// MaxStep is the most a Step decision may move a route's weight:
	// `max_step`, else `step`, else the largest jump of `steps`; Full when
	// none is given.
	MaxStep Weight
	// Config is the whole section as a JSON object.
	Config json.RawMessage
}

// DefaultPolicyInterval is a policy's interval when the section sets none.
const DefaultPolicyInterval = 30 * time.Second

// policy reads a `policy:` mapping.
func (d *decoder) policy(v *yaml.Node) *Policy {
	if v.Kind != yaml.MappingNode {
		d.fail(v, "policy", fmt.Errorf("policy must be a mapping with at least a type, got %s", describe(v)))
		return nil
	}
	var raw map[string]any
	if err := v.Decode(&raw); err != nil {
		d.fail(v, "policy", fmt.Errorf("policy: %w", err))
		return nil
	}
	cfg, err := json.Marshal(raw)
	if err != nil {
		d.fail(v, "policy", fmt.Errorf("policy: %w", err))
		return nil
	}
	p := &Policy{Interval: DefaultPolicyInterval, Config: cfg}
	var typed bool
	var steps *yaml.Node
	for _, e := range d.entries(v, "policy", "field") {
		path := "policy." + e.name
		switch e.name {
		case "type":
			if s, ok := d.text(e.val, path, "type", "a policy plugin's name"); ok && s != "" {
				p.Type, typed = s, true
			}
		case "interval":
			if s, ok := d.text(e.val, path, "interval", `a duration like "30s"`); ok {
				iv, err := time.ParseDuration(s)
				switch {
				case err != nil:
					d.fail(e.val, path, fmt.Errorf("interval must be a duration like \"30s\", got %q", s))
				case iv < 100*time.Millisecond || iv > 24*time.Hour:
					d.fail(e.val, path, fmt.Errorf("interval must be between 100ms and 24h, got %s", iv))
				default:
					p.Interval = iv
				}
			}
		case "max_step", "step":
			w, err := stepWeight(e.val)
			if err != nil {
				d.fail(e.val, path, fmt.Errorf("%s: %w", e.name, err))
				continue
			}
			if e.name == "max_step" || p.MaxStep == 0 {
				p.MaxStep = w
			}
		case "steps":
			steps = e.val
		}
	}
	if !typed {
		d.fail(v, "policy.type", errors.New("policy.type is required: the name of a policy plugin, like canary or bluegreen"))
	}
	if p.MaxStep == 0 && steps != nil && steps.Kind == yaml.SequenceNode {
		prev := Weight(0)
		for _, s := range steps.Content {
			w, err := stepWeight(s)
			if err != nil {
				d.fail(s, "policy.steps", fmt.Errorf("steps: %w", err))
				break
			}
			p.MaxStep = max(p.MaxStep, w-prev)
			prev = w
		}
	}
	if p.MaxStep == 0 {
		p.MaxStep = Full
	}
	return p
}

// stepWeight reads a step as 10, 2.5 or "10%".
func stepWeight(n *yaml.Node) (Weight, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("a percentage like 10 or \"10%%\", got %s", describe(n))
	}
	if n.Tag == "!!int" || n.Tag == "!!float" {
		var f float64
		if err := n.Decode(&f); err != nil || f <= 0 || f > 100 || math.IsNaN(f) {
			return 0, fmt.Errorf("a percentage above 0 and at most 100, got %s", n.Value)
		}
		return Weight(math.Round(f * 100)), nil
	}
	w, err := parsePercent("step", n.Value)
	if err != nil {
		return 0, err
	}
	if w == 0 {
		return 0, fmt.Errorf("a percentage above 0, got %q", n.Value)
	}
	return w, nil
}

// node writes the section back from its JSON form.
func (p *Policy) node() (*yaml.Node, error) {
	var v any
	if err := json.Unmarshal(p.Config, &v); err != nil {
		return nil, err
	}
	n := &yaml.Node{}
	if err := n.Encode(v); err != nil {
		return nil, err
	}
	return n, nil
}

// KeepPolicyWeights gives g the weights of stored, the gateway of the same
// name in service, when both have the same policy section and routes:
// while a policy runs, it owns the weights, and re-applying an unchanged
// file or document must not put the rollout back to its start. A changed
// policy section starts a new rollout with g's own weights. It reports
// whether the weights were taken from stored.
func (g *Gateway) KeepPolicyWeights(stored *Gateway) bool {
	if g.Policy == nil || stored == nil || stored.Policy == nil || len(g.Routes) != len(stored.Routes) ||
		!bytes.Equal(g.Policy.Config, stored.Policy.Config) {
		return false
	}
	for i := range g.Routes {
		if g.Routes[i].Name != stored.Routes[i].Name {
			return false
		}
	}
	for i := range g.Routes {
		g.Routes[i].Weight = stored.Routes[i].Weight
	}
	return true
}
