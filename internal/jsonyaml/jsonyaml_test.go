package jsonyaml

import (
	"encoding/json"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The YAML reads back as the JSON does: the same keys, every string a
// string (also those that look like numbers, booleans, null or times),
// raw nested objects as objects.
func TestFromJSONKeepsTheStructure(t *testing.T) {
	doc := `{"b":"true","a":"1.5","t":"2026-12-07T14:00:30.694064018Z","n":null,"e":"","y":"yes","Y":"On","o":{},"l":[],` +
		`"num":1e3,"int":7,"neg":-2.5,"s":"a: b","nl":"x\ny","tilde":"~","hex":"0x1F","u":"\u003e é","nested":{"phase":"promoted","step":1,"ok":true}}`
	out, err := FromJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON, fromYAML any
	if err := json.Unmarshal([]byte(doc), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(out, &fromYAML); err != nil {
		t.Fatal(err)
	}
	if got := numbersAsFloats(fromYAML); !reflect.DeepEqual(got, fromJSON) {
		t.Fatalf("YAML\n%s reads as\n%#v\nJSON as\n%#v", out, got, fromJSON)
	}
}

func TestFromJSONKeepsKeyOrder(t *testing.T) {
	out, err := FromJSON([]byte(`{"z":1,"a":{"x":2,"b":3}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "z: 1\na:\n  x: 2\n  b: 3\n"; string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestFromJSONRefusesEmpty(t *testing.T) {
	if _, err := FromJSON([]byte("  \n")); err == nil {
		t.Fatal("an empty document was converted")
	}
}

// numbersAsFloats makes YAML's ints float64, as encoding/json decodes them.
func numbersAsFloats(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = numbersAsFloats(e)
		}
	case []any:
		for i, e := range v {
			v[i] = numbersAsFloats(e)
		}
	case int:
		return float64(v)
	}
	return v
}
