package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/turnout/turnout/core/policy"
	"github.com/turnout/turnout/plugins/sdk"
)

// fakePolicy answers every status with a policy state holding a plugin's
// raw state, the field YAML-encoding wrote as a list of bytes.
type fakePolicy struct{}

func (fakePolicy) Status(context.Context, string) (any, bool, error) {
	return policy.Status{State: policy.State{
		ConfigHash: "c0ffee", Type: "canary", Phase: "progressing", Decisions: 1,
		Plugin: json.RawMessage(`{"phase":"progressing","step":1}`),
		Last:   &policy.Decision{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Action: sdk.Step, Reason: "step 1/2 → 10%"},
		Next:   time.Date(2026, 1, 2, 3, 5, 5, 0, time.UTC),
	}, Interval: "1m0s"}, true, nil
}

func (fakePolicy) Command(context.Context, string, sdk.Command) error { return nil }
func (fakePolicy) Drives(context.Context, string) (bool, string, error) {
	return false, "", nil
}

// Every answer in YAML is its JSON answer as YAML: the same structure.
func TestYAMLAnswersAreTheJSONAnswers(t *testing.T) {
	f := seeded(t)
	f.h = New(Config{Store: f.st, Check: fakeCheck, Logger: slog.New(slog.DiscardHandler), Policy: fakePolicy{}})
	for _, path := range []string{
		"/api/v1/gateways", "/api/v1/gateways/shop/web", "/api/v1/gateways/shop/web/revisions",
		"/api/v1/gateways/shop/web/revisions/1", "/api/v1/gateways/simpleservice/status",
		"/api/v1/gateways/nope", // an error
	} {
		j := f.do("GET", path, "", "Accept", jsn)
		y := f.do("GET", path, "", "Accept", yml)
		if y.Code != j.Code || y.Header().Get(ct) != yml {
			t.Errorf("%s: yaml %d %s, json %d", path, y.Code, y.Header().Get(ct), j.Code)
		}
		var fromJSON, fromYAML any
		if err := json.Unmarshal(j.Body.Bytes(), &fromJSON); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := yaml.Unmarshal(y.Body.Bytes(), &fromYAML); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !reflect.DeepEqual(fromJSON, numbersAsJSON(fromYAML)) {
			t.Errorf("%s: the YAML answer is not the JSON answer\n--- json\n%s--- yaml\n%s", path, j.Body, y.Body)
		}
	}
}

// numbersAsJSON makes YAML's integers float64, as encoding/json decodes
// numbers; anything else YAML has and JSON has not (a time.Time) stays.
func numbersAsJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = numbersAsJSON(e)
		}
	case []any:
		for i, e := range v {
			v[i] = numbersAsJSON(e)
		}
	case int:
		return float64(v)
	}
	return v
}
