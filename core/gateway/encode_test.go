package gateway

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the encoder's output")

// encodeYAML writes gateways as a file would hold them: one gateway as a
// mapping, more as a list.
func encodeYAML(t *testing.T, gws []*Gateway) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	var v any = gws
	if len(gws) == 1 {
		v = gws[0]
	}
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJSON(t *testing.T, gws []*Gateway) []byte {
	t.Helper()
	var v any = gws
	if len(gws) == 1 {
		v = gws[0]
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// Every valid example encodes to its golden file, and decoding the encoded
// form, YAML or JSON, gives the same gateways back (lines aside): a GET's
// output can be PUT back.
func TestEncodeRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		t.Run(base, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			gws, err := Decode(data, base)
			if err != nil {
				t.Fatal(err)
			}
			y, j := encodeYAML(t, gws), encodeJSON(t, gws)
			// golden/seed.yaml.json is seed.yaml encoded as JSON.
			golden(t, base+".yaml", y)
			golden(t, base+".json", j)

			want := strip(t, gws)
			for _, enc := range [][]byte{y, j} {
				back, err := Decode(enc, "encoded")
				if err != nil {
					t.Fatalf("decoding the encoder's output: %v\n%s", err, enc)
				}
				if len(back) != len(want) {
					t.Fatalf("got %d gateways back, want %d", len(back), len(want))
				}
				for i := range back {
					back[i].Line = want[i].Line
				}
				sameGateways(t, back, want)
			}
		})
	}
}

// Route order survives both encoders, even against key order.
func TestEncodeKeepsRouteOrder(t *testing.T) {
	g := &Gateway{Name: "z", Port: Port{80, HTTP}, Routes: []Route{
		static("c.example.com", 1, 5000), static("a.example.com", 1, 2500), static("b.example.com", 1, 2500),
	}}
	j, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"z","port":"80/http","sticky":null,"virtual_hosts":[],"routes":{` +
		`"[c.example.com:1]":{"weight":"50%"},"[a.example.com:1]":{"weight":"25%"},"[b.example.com:1]":{"weight":"25%"}}}`
	if string(j) != want {
		t.Errorf("json\n got: %s\nwant: %s", j, want)
	}
	y, err := yaml.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := bytes.Index(y, []byte("a.example.com")), bytes.Index(y, []byte("b.example.com")), bytes.Index(y, []byte("c.example.com"))
	if !(c < a && a < b) {
		t.Errorf("yaml route order changed:\n%s", y)
	}
}

// Values that YAML would read as another type are quoted, and JSON keeps
// conditions readable.
func TestEncodeQuoting(t *testing.T) {
	g := &Gateway{Name: "true", Port: Port{80, HTTP}, Routes: []Route{
		withCondition(static("10.0.0.1", 80, Full), `header X == "a&b"`, Full),
	}}
	y, err := yaml.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(y, []byte(`name: "true"`)) {
		t.Errorf("name not quoted:\n%s", y)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(g); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"condition":"header X == \"a&b\""`) {
		t.Errorf("condition not as written: %s", b.String())
	}
}

// Strings that YAML or JSON must escape survive a round trip.
func TestEncodeRoundTripTricky(t *testing.T) {
	conds := []string{`! has header X-A`, `header "X A" == 'it''s'`, `user-agent == "a: b # c"`, `path ~ "^/[a-z]+$" || host == a.example.com`}
	g := &Gateway{Name: "null", Port: Port{0, TCP}}
	for i, c := range conds {
		r := withCondition(static("10.0.0."+strconv.Itoa(i+1), 80, 2500), c, Weight(i*1000))
		g.Routes = append(g.Routes, r)
	}
	g.Port.Protocol = HTTP
	g.Routes[0].Rewrites = []Rewrite{{Path: "%[path]/x", Condition: conds[1]}}
	y, err := yaml.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range [][]byte{y, j} {
		back, err := DecodeOne(enc, "")
		if err != nil {
			t.Fatalf("%v\n%s", err, enc)
		}
		back.Line = 0
		sameGateways(t, []*Gateway{back}, []*Gateway{g})
	}
}
