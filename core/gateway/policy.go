package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
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
	// Notify are where the rollout's events go (`notify:`), besides the
	// agent-wide ones; the core's, never the plugin's (PluginConfig).
	Notify []Notify
}

// Notify is one receiver of a rollout's events: Format is slack, teams
// or webhook, URL where they are POSTed.
type Notify struct {
	Format string `json:"format"`
	URL    string `json:"url"`
}

// NotifyFormats are the formats a receiver may take.
var NotifyFormats = []string{"slack", "teams", "webhook"}

// ParseNotify checks one receiver: a known format and an http(s) URL.
func ParseNotify(format, rawURL string) (Notify, error) {
	if !slices.Contains(NotifyFormats, format) {
		return Notify{}, fmt.Errorf("format must be one of %s, got %q", strings.Join(NotifyFormats, ", "), format)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Notify{}, fmt.Errorf("url must be an http or https URL, got %q", rawURL)
	}
	return Notify{Format: format, URL: rawURL}, nil
}

// PluginConfig is the section the policy plugin sees: Config without the
// core's own notify list (a plugin refuses keys it does not know). It is
// Config itself, byte for byte, when there is no notify.
func (p *Policy) PluginConfig() json.RawMessage {
	if len(p.Notify) == 0 {
		return p.Config
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(p.Config, &m); err != nil {
		return p.Config
	}
	delete(m, "notify")
	b, err := json.Marshal(m)
	if err != nil {
		return p.Config
	}
	return b
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
		case "notify":
			p.Notify = d.notify(e.val, path)
		}
	}
	if !typed {
		d.fail(v, "policy.type", errors.New("policy.type is required: the name of a policy plugin, like canary or bluegreen"))
	}
	if p.MaxStep == 0 && steps != nil && steps.Kind == yaml.SequenceNode {
		prev := Weight(0)
		for _, s := range steps.Content {
			if s.Kind == yaml.MappingNode {
				continue // a pause ({pause: 10m}): the plugin's to read
			}
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

// notify reads `notify:`, a list of {format, url} (one mapping alone is a
// list of one).
func (d *decoder) notify(v *yaml.Node, path string) []Notify {
	items := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	var out []Notify
	for i, it := range items {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		if it.Kind != yaml.MappingNode {
			d.fail(it, ipath, fmt.Errorf("a receiver must be {format: slack|teams|webhook, url: URL}, got %s", describe(it)))
			continue
		}
		var format, u string
		for _, f := range d.entries(it, ipath, "field") {
			switch f.name {
			case "format":
				format, _ = d.text(f.val, ipath+".format", "format", "slack, teams or webhook")
			case "url":
				u, _ = d.text(f.val, ipath+".url", "url", "an http or https URL")
			default:
				d.fail(f.key, ipath, unknownField(f.name, []string{"format", "url"}))
			}
		}
		n, err := ParseNotify(format, u)
		if err != nil {
			d.fail(it, ipath, err)
			continue
		}
		out = append(out, n)
	}
	return out
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
// policy section (its notify list aside) starts a new rollout with g's
// own weights. It reports
// whether the weights were taken from stored.
func (g *Gateway) KeepPolicyWeights(stored *Gateway) bool {
	if g.Policy == nil || stored == nil || stored.Policy == nil || len(g.Routes) != len(stored.Routes) ||
		!bytes.Equal(g.Policy.PluginConfig(), stored.Policy.PluginConfig()) {
		return false
	}
	for i := range g.Routes {
		if g.Routes[i].Name != stored.Routes[i].Name {
			return false
		}
	}
	for i := range g.Routes {
		g.Routes[i].Weight = stored.Routes[i].Weight
		if g.refs != nil {
			// Kept, so given: a stored route's fields must not split them again.
			g.refs.given[i] = true
		}
	}
	return true
}
