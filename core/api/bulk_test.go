package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// PUT /gateways applies a whole file in one store commit: every gateway
// created, updated or left unchanged, or, when one is refused, none.
func TestBulkApply(t *testing.T) {
	f := seeded(t)
	before := f.snapshot().Version
	doc := strings.Replace(shopYAML, "8081", "8082", 1) + "---\n" + seedJSON + "\n---\nname: new\nport: 8090\nroutes:\n  \"[n:1]\":\n    condition_strength: 5%\n"
	rec := f.must(200, "PUT", "/api/v1/gateways", doc, ct, yml)
	var got []applyResult
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []applyResult{
		{Gateway: "shop/web", Result: "unchanged", Revision: 2},
		{Gateway: "simpleservice", Result: "unchanged", Revision: 1},
		{Gateway: "new", Result: "created", Revision: 1,
			Warnings: []string{`routes."[n:1]".condition_strength: condition_strength has no effect without a condition`}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results %+v\nwant %+v", got, want)
	}
	if v := f.snapshot().Version; v != before+1 {
		t.Errorf("store version %d -> %d: want one commit", before, v)
	}

	// One refused gateway (a port another gateway of the file takes)
	// refuses the file: nothing changes.
	before = f.snapshot().Version
	bad := strings.Replace(shopYAML, "8081", "9000", 1) + "---\nname: other\nport: 9000\n"
	f.must(409, "PUT", "/api/v1/gateways", bad, ct, yml)
	if v := f.snapshot().Version; v != before {
		t.Errorf("a refused bulk apply changed the store (version %d -> %d)", before, v)
	}

	// An update and validate_only.
	upd := strings.Replace(shopYAML, "8081", "8083", 1)
	rec = f.must(200, "PUT", "/api/v1/gateways?validate_only=true", upd, ct, yml)
	if !strings.Contains(rec.Body.String(), `"result":"updated"`) || f.snapshot().Version != before {
		t.Errorf("validate_only: %s, version %d (was %d)", rec.Body, f.snapshot().Version, before)
	}
	rec = f.must(200, "PUT", "/api/v1/gateways", upd, ct, yml)
	if !strings.Contains(rec.Body.String(), `{"gateway":"shop/web","result":"updated","revision":3}`) {
		t.Errorf("update: %s", rec.Body)
	}
}
