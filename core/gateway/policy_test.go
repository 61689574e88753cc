package gateway

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const policyGateway = `name: shop
port: 8080/http
routes:
  "marathon:/shop-1.0":
    weight: 100%
  "marathon:/shop-1.1":
    weight: 0%
policy:
`

func TestDecodePolicy(t *testing.T) {
	for _, c := range []struct {
		name, section string
		interval      time.Duration
		maxStep       Weight
		config        string
	}{
		{"defaults", "  type: canary\n", DefaultPolicyInterval, Full, `{"type":"canary"}`},
		{"step", "  type: canary\n  interval: 1m\n  step: 10\n", time.Minute, 1000, `{"interval":"1m","step":10,"type":"canary"}`},
		{"steps: the largest jump", "  type: canary\n  steps: [1, 5, 10, 25, 50]\n", DefaultPolicyInterval, 2500, `{"steps":[1,5,10,25,50],"type":"canary"}`},
		{"pauses among the steps", "  type: canary\n  steps: [10, {pause: {duration: 10m}}, 40, {pause: {}}, 50]\n", DefaultPolicyInterval, 3000,
			`{"steps":[10,{"pause":{"duration":"10m"}},40,{"pause":{}},50],"type":"canary"}`},
		{"max_step wins", "  type: canary\n  step: 10\n  max_step: \"2.5%\"\n", DefaultPolicyInterval, 250, `{"max_step":"2.5%","step":10,"type":"canary"}`},
		{"anything else is the plugin's", "  type: bluegreen\n  active: a\n  webhooks: [{url: http://x, timeout: 5s}]\n  auto_promote: true\n", DefaultPolicyInterval, Full,
			`{"active":"a","auto_promote":true,"type":"bluegreen","webhooks":[{"timeout":"5s","url":"http://x"}]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, err := DecodeOne([]byte(policyGateway+c.section), "gw.yaml")
			if err != nil {
				t.Fatal(err)
			}
			p := g.Policy
			if p == nil || p.Interval != c.interval || p.MaxStep != c.maxStep || string(p.Config) != c.config {
				t.Fatalf("got %+v (config %s)", p, p.Config)
			}
			// Encoded and decoded again, the section is the same.
			doc, err := g.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			again, err := DecodeOne(doc, "")
			if err != nil {
				t.Fatalf("%s: %v", doc, err)
			}
			if string(again.Policy.Config) != c.config || again.Policy.MaxStep != c.maxStep {
				t.Fatalf("round trip: %+v from %s", again.Policy, doc)
			}
		})
	}
}

func TestDecodePolicyErrors(t *testing.T) {
	for section, want := range map[string]string{
		"  interval: 1m\n":                                                         `gw.yaml:9:3: gateway "shop": policy.type: policy.type is required: the name of a policy plugin, like canary or bluegreen`,
		"  type: canary\n  interval: soon\n":                                       `gw.yaml:10:13: gateway "shop": policy.interval: interval must be a duration like "30s", got "soon"`,
		"  type: canary\n  interval: 10ms\n":                                       `gw.yaml:10:13: gateway "shop": policy.interval: interval must be between 100ms and 24h, got 10ms`,
		"  type: canary\n  step: 0\n":                                              `gw.yaml:10:9: gateway "shop": policy.step: step: a percentage above 0 and at most 100, got 0`,
		"  type: canary\n  steps: [5, x]\n":                                        `gw.yaml:10:14: gateway "shop": policy.steps: steps: step must be a percentage like "50%", got "x"`,
		"  type: canary\n  notify: [{format: email, url: http://x}]\n":             `gw.yaml:10:12: gateway "shop": policy.notify[0]: format must be one of slack, teams, webhook, got "email"`,
		"  type: canary\n  notify: {format: slack, url: hooks.slack.com}\n":        `gw.yaml:10:11: gateway "shop": policy.notify[0]: url must be an http or https URL, got "hooks.slack.com"`,
		"  type: canary\n  notify: [{format: slack, url: http://x, channel: a}]\n": `gw.yaml:10:43: gateway "shop": policy.notify[0]: unknown field "channel" (supported: format, url)`,
	} {
		_, err := DecodeOne([]byte(policyGateway+section), "gw.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q:\n got %v\nwant %s", section, err, want)
		}
	}
	if _, err := DecodeOne([]byte(strings.TrimSuffix(policyGateway, "policy:\n")+"policy: canary\n"), "gw.yaml"); err == nil ||
		!strings.Contains(err.Error(), "policy must be a mapping with at least a type, got \"canary\"") {
		t.Errorf("scalar policy: %v", err)
	}
}

// notify is the core's: read and written back with the section, never
// shown to the plugin, and changing it starts no new rollout.
func TestPolicyNotify(t *testing.T) {
	section := "  type: canary\n  step: 10\n  notify:\n    - {format: slack, url: https://hooks.slack.com/services/T/B/x}\n    - {format: webhook, url: http://127.0.0.1:9/hook}\n"
	g, err := DecodeOne([]byte(policyGateway+section), "gw.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Notify{{"slack", "https://hooks.slack.com/services/T/B/x"}, {"webhook", "http://127.0.0.1:9/hook"}}
	if !slices.Equal(g.Policy.Notify, want) {
		t.Errorf("notify %+v", g.Policy.Notify)
	}
	if got := string(g.Policy.PluginConfig()); got != `{"step":10,"type":"canary"}` {
		t.Errorf("the plugin's section %s", got)
	}
	doc, err := g.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	again, err := DecodeOne(doc, "")
	if err != nil || !slices.Equal(again.Policy.Notify, want) {
		t.Fatalf("round trip: %v %+v from %s", err, again.Policy, doc)
	}
	without, err := DecodeOne([]byte(policyGateway+"  type: canary\n  step: 10\n"), "gw.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !g.KeepPolicyWeights(without) {
		t.Error("a changed notify list started a new rollout")
	}
}

func TestKeepPolicyWeights(t *testing.T) {
	decode := func(w1, w2, section string) *Gateway {
		doc := strings.NewReplacer("100%", w1, "0%", w2).Replace(policyGateway) + section
		g, err := DecodeOne([]byte(doc), "")
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	section := "  type: canary\n  step: 10\n"
	stored := decode("70%", "30%", section)
	g := decode("100%", "0%", section)
	if !g.KeepPolicyWeights(stored) || g.Routes[0].Weight != 7000 || g.Routes[1].Weight != 3000 {
		t.Fatalf("same section: weights %v %v", g.Routes[0].Weight, g.Routes[1].Weight)
	}
	g = decode("100%", "0%", "  type: canary\n  step: 20\n")
	if g.KeepPolicyWeights(stored) || g.Routes[0].Weight != Full {
		t.Fatal("a changed section must start a new rollout with its own weights")
	}
}
