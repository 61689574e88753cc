package canary

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestValidateConfig(t *testing.T) {
	routes := []string{stable, canary, "[10.0.0.9:80]"}
	for _, tc := range []struct {
		name, config, err string
	}{
		{"minimal", base + `, "steps": [10]}`, ""},
		{"everything", base + `, "steps": [1, 5, 10, 25, 50], "threshold": 3, "min_requests": 20, "max_error_rate": "1%", "max_p99": "500ms", "max_step": 25,
			"webhooks": [{"name": "load-test", "type": "pre-rollout", "url": "http://127.0.0.1:9999/gate", "timeout": "5s", "metadata": {"cmd": "hey", "n": 3, "on": true}},
				{"name": "gate", "type": "confirm-promotion", "url": "https://gate.example/ok"}]}`, ""},
		{"step", base + `, "step": 10, "max_weight": 60}`, ""},
		{"min_requests 0", base + `, "step": 10, "min_requests": 0}`, "canary: min_requests: must be a whole number of at least 1, got 0: 0 would judge, and pass, a window in which the canary got no request at all"},

		{"not a mapping", `[1]`, "canary: the policy section must be a mapping: json: cannot unmarshal array into Go value of type map[string]json.RawMessage"},
		{"null", `null`, "canary: the policy section must be a mapping, got null"},
		{"unknown key", base + `, "steps": [10], "max_weigth": 50}`, `canary: unknown key "max_weigth" in the policy section`},
		{"no stable", `{"canary": "marathon:/shop-1.1", "steps": [10]}`, "canary: stable is required: the route that has the traffic now"},
		{"no canary", `{"stable": "marathon:/shop-1.0", "steps": [10]}`, "canary: canary is required: the route of the new version"},
		{"stable not a string", `{"stable": 1, "canary": "x", "steps": [10]}`, "canary: stable: must be a string, got 1"},
		{"same routes", `{"stable": "marathon:/shop-1.0", "canary": "marathon:/shop-1.0", "steps": [10]}`, `canary: stable and canary are the same route "marathon:/shop-1.0"`},
		{"stable not a route", `{"stable": "marathon:/shop-0.9", "canary": "marathon:/shop-1.1", "steps": [10]}`,
			`canary: stable: "marathon:/shop-0.9" is not a route of the gateway (its routes: "marathon:/shop-1.0", "marathon:/shop-1.1", "[10.0.0.9:80]")`},
		{"canary not a route", `{"stable": "marathon:/shop-1.0", "canary": "shop-1.1", "steps": [10]}`,
			`canary: canary: "shop-1.1" is not a route of the gateway (its routes: "marathon:/shop-1.0", "marathon:/shop-1.1", "[10.0.0.9:80]")`},
		{"no steps", base + `}`, "canary: steps (a list of percentages) or step (with max_weight) is required"},
		{"empty steps", base + `, "steps": []}`, "canary: steps: at least one step is needed"},
		{"steps not increasing", base + `, "steps": [1, 5, 5, 10]}`, "canary: steps: must be strictly increasing, got 5% after 5%"},
		{"steps equal in basis points", base + `, "steps": [2.555, 2.56]}`, "canary: steps: must be strictly increasing, got 2.56% after 2.56%"},
		{"steps decreasing", base + `, "steps": [10, 5]}`, "canary: steps: must be strictly increasing, got 5% after 10%"},
		{"step of 100", base + `, "steps": [50, 100]}`, "canary: steps: each step must be above 0 and below 100 (100% comes with promotion), got 100%"},
		{"step of 0", base + `, "steps": [0, 10]}`, "canary: steps: each step must be above 0 and below 100 (100% comes with promotion), got 0%"},
		{"steps not a list", base + `, "steps": 10}`, "canary: steps: want a list of percentages like [1, 5, 10], got 10"},
		{"steps of words", base + `, "steps": ["ten"]}`, `canary: steps: [0]: want a percentage like 10 or "10%", got "ten"`},
		{"pause first", base + `, "steps": [{"pause": "1m"}, 10]}`, "canary: steps: [0]: a pause needs a weight step before it (the first step is taken at once)"},
		{"two pauses", base + `, "steps": [10, {"pause": "1m"}, {"pause": {}}]}`, "canary: steps: [2]: two pauses in a row"},
		{"pause of words", base + `, "steps": [10, {"pause": "soon"}]}`, `canary: steps: [1]: pause: duration: want a duration like "10m", got "soon"`},
		{"pause key", base + `, "steps": [10, {"pause": {"until": "noon"}}]}`, `canary: steps: [1]: pause: unknown key "until" (duration, or none for a pause until resumed)`},
		{"not a pause", base + `, "steps": [10, {"wait": "1m"}]}`, `canary: steps: [1]: want a percentage, {pause: {duration: 10m}} or {pause: {}}, got {"wait": "1m"}`},
		{"iterations 0", base + `, "steps": [10], "iterations": 0}`, "canary: iterations: must be a whole number of at least 1, got 0"},
		{"steps and step", base + `, "steps": [10], "step": 10}`, "canary: give either steps or step (with max_weight), not both"},
		{"steps and max_weight", base + `, "steps": [10], "max_weight": 50}`, "canary: max_weight goes with step, not with steps (the last step is the most)"},
		{"max_weight alone", base + `, "max_weight": 50}`, "canary: max_weight needs step"},
		{"step over max_weight", base + `, "step": 60}`, "canary: step: must be above 0 and at most max_weight (50%), got 60%"},
		{"negative step", base + `, "step": -5}`, "canary: step: must be above 0 and at most max_weight (50%), got -5%"},
		{"max_weight 100", base + `, "step": 10, "max_weight": 100}`, "canary: max_weight: must be above 0 and below 100 (100% comes with promotion), got 100%"},
		{"threshold 0", base + `, "steps": [10], "threshold": 0}`, "canary: threshold: must be a whole number of at least 1, got 0"},
		{"threshold 1.5", base + `, "steps": [10], "threshold": 1.5}`, "canary: threshold: must be a whole number of at least 1, got 1.5"},
		{"min_requests negative", base + `, "steps": [10], "min_requests": -1}`, "canary: min_requests: must be a whole number of at least 1, got -1"},
		{"max_error_rate over 100", base + `, "steps": [10], "max_error_rate": "120%"}`, "canary: max_error_rate: must be a percentage from 0 to 100, got 120%"},
		{"max_error_rate words", base + `, "steps": [10], "max_error_rate": "low"}`, `canary: max_error_rate: want a percentage like 10 or "10%", got "low"`},
		{"max_p99 a number", base + `, "steps": [10], "max_p99": 500}`, `canary: max_p99: want a duration like "500ms", got 500`},
		{"max_p99 zero", base + `, "steps": [10], "max_p99": "0s"}`, "canary: max_p99: must be above 0, got 0s"},
		{"webhooks not a list", base + `, "steps": [10], "webhooks": {}}`, "canary: webhooks: must be a list of mappings"},
		{"webhook without name", base + `, "steps": [10], "webhooks": [{"type": "rollback", "url": "http://127.0.0.1:1/"}]}`, "canary: webhooks[0]: name is required"},
		{"webhook name twice", base + `, "steps": [10], "webhooks": [{"name": "a", "type": "rollback", "url": "http://127.0.0.1:1/"}, {"name": "a", "type": "rollback", "url": "http://127.0.0.1:1/"}]}`,
			`canary: webhooks[1]: the name "a" is used twice`},
		{"webhook type", base + `, "steps": [10], "webhooks": [{"name": "a", "type": "pre", "url": "http://127.0.0.1:1/"}]}`,
			`canary: webhooks[0] (a): type "pre" is not one of confirm-rollout, pre-rollout, rollout, confirm-traffic-increase, confirm-promotion, rollback, post-rollout, event`},
		{"webhook without type", base + `, "steps": [10], "webhooks": [{"name": "a", "url": "http://127.0.0.1:1/"}]}`,
			`canary: webhooks[0] (a): type "" is not one of confirm-rollout, pre-rollout, rollout, confirm-traffic-increase, confirm-promotion, rollback, post-rollout, event`},
		{"webhook relative url", base + `, "steps": [10], "webhooks": [{"name": "a", "type": "rollback", "url": "127.0.0.1:9999/gate"}]}`,
			`canary: webhooks[0] (a): url "127.0.0.1:9999/gate" is not an absolute http(s) URL`},
		{"webhook ftp url", base + `, "steps": [10], "webhooks": [{"name": "a", "type": "rollback", "url": "ftp://127.0.0.1/gate"}]}`,
			`canary: webhooks[0] (a): url "ftp://127.0.0.1/gate" is not an absolute http(s) URL`},
		{"webhook timeout", base + `, "steps": [10], "webhooks": [{"name": "a", "type": "rollback", "url": "http://127.0.0.1:1/", "timeout": "5"}]}`,
			`canary: webhooks[0] (a): timeout: want a duration like "5s", got "5"`},
		{"webhook negative timeout", base + `, "steps": [10], "webhooks": [{"name": "a", "type": "rollback", "url": "http://127.0.0.1:1/", "timeout": "-1s"}]}`,
			`canary: webhooks[0] (a): timeout: must be above 0, got -1s`},
		{"webhook metadata", base + `, "steps": [10], "webhooks": [{"name": "a", "type": "rollback", "url": "http://127.0.0.1:1/", "metadata": {"k": [1]}}]}`,
			`canary: webhooks[0] (a): metadata: the value of "k" must be a string, number or boolean`},
		{"webhook unknown key", base + `, "steps": [10], "webhooks": [{"name": "a", "type": "rollback", "url": "http://127.0.0.1:1/", "retries": 3}]}`,
			`canary: webhooks[0] (a): unknown key "retries"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := New().ValidateConfig(context.Background(), json.RawMessage(tc.config), routes)
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.err != "" && (err == nil || err.Error() != tc.err):
				t.Errorf("error\n  %v\nwant\n  %s", err, tc.err)
			}
		})
	}
}

func TestParsedConfig(t *testing.T) {
	c, err := parseConfig(json.RawMessage(base+`, "step": 0.1, "max_weight": "0.35%", "webhooks": [{"name": "a", "type": "rollback", "url": "http://127.0.0.1:1/"}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.steps, []float64{0.1, 0.2, 0.3, 0.35}) {
		t.Errorf("steps %v", c.steps)
	}
	if c.threshold != 1 || c.minRequests != 10 || c.maxErrorRate != 1 || c.maxP99 != 500*time.Millisecond {
		t.Errorf("defaults %+v", c)
	}
	if c.webhooks[0].timeout != 10*time.Second {
		t.Errorf("webhook timeout %s", c.webhooks[0].timeout)
	}
}

func TestConfigure(t *testing.T) {
	p := New()
	for _, ok := range []string{``, `{}`, `null`} {
		if err := p.Configure(context.Background(), json.RawMessage(ok)); err != nil {
			t.Errorf("Configure(%s): %v", ok, err)
		}
	}
	err := p.Configure(context.Background(), json.RawMessage(`{"threshold": 3}`))
	if err == nil || err.Error() != `canary: the plugin has no settings ("threshold" given); it is set in each gateway's policy section` {
		t.Errorf("Configure: %v", err)
	}
	info, _ := p.Info(context.Background())
	if info.Name != "canary" || info.Version != "0.1.0" || info.Kind != "policy" {
		t.Errorf("Info %+v", info)
	}
}
