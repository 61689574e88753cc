package gateway

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/condition"
)

// seedYAML is the README's gateway, verbatim.
const seedYAML = `name: simpleservice
port: 8080/http
routes:
  "[simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000]":
    weight: 50%
  "[simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000]":
    weight: 50%
`

const seedJSON = `{
  "name": "simpleservice",
  "port": "8080/http",
  "routes": {
    "[simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000]": {"weight": "50%"},
    "[simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000]": {"weight": "50%"}
  }
}`

// static is a route to "[host:port]" with the decoder's defaults.
func static(host string, port int, w Weight) Route {
	name := host
	if strings.Contains(host, ":") {
		name = "[" + host + "]"
	}
	return Route{
		Name:    "[" + name + ":" + strconv.Itoa(port) + "]",
		Target:  Target{Kind: Static, Host: host, Port: port},
		Weight:  w,
		Balance: BalanceDefault,
	}
}

func plugin(kind TargetKind, ref string, w Weight) Route {
	return Route{Name: string(kind) + ":" + ref, Target: Target{Kind: kind, Ref: ref}, Weight: w, Balance: BalanceDefault, RequireReady: true}
}

// withCondition sets a route's condition; Match is checked separately.
func withCondition(r Route, cond string, strength Weight) Route {
	r.Condition, r.ConditionStrength = cond, strength
	return r
}

func seedGateway(line int) *Gateway {
	return &Gateway{
		Name: "simpleservice",
		Port: Port{Number: 8080, Protocol: HTTP},
		Routes: []Route{
			static("simple-service-1.0.0.marathon.l4lb.thisdcos.directory", 3000, 5000),
			static("simple-service-1.1.0.marathon.l4lb.thisdcos.directory", 3000, 5000),
		},
		Line: line,
	}
}

func retries(n int) *int { return &n }

// validFiles is every file in testdata/valid and what it decodes to. The
// encoder tests round-trip all of them.
var validFiles = map[string][]*Gateway{
	"seed.yaml": {seedGateway(1)},
	"seed.json": {seedGateway(1)},
	"vamp-firefox.yaml": {{
		Name: "firefox",
		Port: Port{Number: 9050, Protocol: HTTP},
		Routes: []Route{
			static("service-a.marathon.l4lb.thisdcos.directory", 8080, Full),
			withCondition(static("service-b.marathon.l4lb.thisdcos.directory", 8080, 0), "user-agent == Firefox", Full),
		},
		Line: 4,
	}},
	"vamp-condition-reference.yaml": {{
		Name: "sava",
		Port: Port{Number: 9050, Protocol: HTTP},
		Routes: []Route{static("10.0.0.1", 3000, Full), func() Route {
			r := static("10.0.0.2", 3000, 0)
			r.ConditionRef, r.ConditionStrength = "firefox", 5000
			return r
		}()},
		Line: 8,
	}},
	"condition-reference-stored.yaml": {{
		Name: "sava",
		Port: Port{Number: 9050, Protocol: HTTP},
		Routes: []Route{
			withCondition(static("10.0.0.1", 3000, Full), "user-agent = Chrome", Full),
			func() Route {
				r := withCondition(static("10.0.0.2", 3000, 0), "user-agent = Firefox", Full)
				r.ConditionRef = "firefox"
				return r
			}(),
		},
		Line: 4,
	}},
	"vamp-sticky.yaml": {{
		Name:   "sticky",
		Port:   Port{Number: 9051, Protocol: HTTP},
		Sticky: StickyRoute,
		Routes: []Route{static("192.168.99.100", 5050, 5000), static("localhost", 5050, 5000)},
		Line:   2,
	}},
	"vamp-rewrites.yaml": {{
		Name:         "api/v2",
		Port:         Port{Number: 9052, Protocol: HTTP},
		VirtualHosts: []string{"api.example.com", "*.api.example.com"},
		Routes: []Route{func() Route {
			r := static("10.0.0.5", 8080, Full)
			r.Rewrites = []Rewrite{
				{Path: "/v2%[path]", Condition: "path ~ ^/api/"},
				{Path: "/legacy", Condition: "has header X-Legacy"},
			}
			return r
		}()},
		Line: 3,
	}},
	"vamp-leastconn.yaml": {{
		Name: "postgres",
		Port: Port{Number: 5432, Protocol: TCP},
		Routes: []Route{
			func() Route { r := static("db-1.example.com", 5432, 5000); r.Balance = BalanceLeastConn; return r }(),
			func() Route {
				r := static("db-2.example.com", 5432, 5000)
				r.Balance, r.Timeout, r.Retries = BalanceLeastConn, 30*time.Second, retries(2)
				return r
			}(),
		},
		Line: 2,
	}},
	"even-split.yaml": {{
		Name:   "three",
		Port:   Port{Number: 9053, Protocol: HTTP},
		Sticky: StickyInstance,
		Routes: []Route{
			plugin(Minuteman, "/simple-service-1.0.0:3000", 3300),
			plugin(MarathonLB, "/simple-service-1.1.0", 3300),
			withCondition(plugin(Consul, "simple-service?tag=canary&dc=dc1", 3400), "header X-Canary == yes", 2500),
		},
		Line: 2,
	}},
	"list.yaml": {
		{Name: "one", Port: Port{Number: 9060, Protocol: HTTP}, Routes: []Route{static("10.0.0.1", 80, Full)}, Line: 1},
		{Name: "two", Port: Port{Protocol: HTTP}, Routes: []Route{static("::1", 8080, 0), static("2001:db8::1", 8080, 0)}, Line: 4},
	},
	"stream.yaml": {
		{Name: "first", Port: Port{Number: 9070, Protocol: HTTP}, Routes: []Route{plugin(Marathon, "/first", Full)}, Line: 2},
		{
			Name:         "second",
			Port:         Port{Number: 9071, Protocol: HTTP},
			VirtualHosts: []string{"second.example.com"},
			// Mixed: the weighted routes total 100%, so the other gets 0%.
			Routes: []Route{static("10.0.0.1", 80, 0), static("10.0.0.2", 80, 7500), static("10.0.0.3", 80, 2500)},
			Line:   7,
		},
	},
	"vamp-get.yaml": {{
		Name: "sava",
		Port: Port{Number: 9080, Protocol: HTTP},
		Routes: []Route{
			static("10.0.0.2", 3000, Full),
			withCondition(static("10.0.0.3", 3000, 0), "user-agent == Firefox", Full),
		},
		Line: 2,
	}},
	"decimals.json": {{
		Name: "decimals",
		Port: Port{Number: 9090, Protocol: HTTP},
		Routes: []Route{
			static("stable.example.com", 80, 9950),
			withCondition(static("canary.example.com", 80, 50), "path ~ ^/beta && cookie group == qa", 3333),
		},
		Line: 1,
	}},
	"empty-routes.yaml": {{Name: "placeholder", Port: Port{Protocol: HTTP}, Line: 2}},
}

// strip checks that every compiled matcher is there exactly when its
// condition is, then drops the matchers (pointers) for comparison.
func strip(t *testing.T, gws []*Gateway) []*Gateway {
	t.Helper()
	out := make([]*Gateway, len(gws))
	for i, g := range gws {
		c := *g
		// How the port was written is checked by TestPortWrittenAsGiven.
		c.PortText = ""
		c.Routes = slices.Clone(g.Routes)
		for j := range c.Routes {
			r := &c.Routes[j]
			if (r.Condition != "") != (r.Match != nil) {
				t.Errorf("gateway %s route %s: condition %q but matcher %v", g.Name, r.Name, r.Condition, r.Match)
			}
			r.Match = nil
			r.Rewrites = slices.Clone(r.Rewrites)
			for k := range r.Rewrites {
				if r.Rewrites[k].Match == nil {
					t.Errorf("gateway %s route %s: rewrite %d has no matcher", g.Name, r.Name, k)
				}
				r.Rewrites[k].Match = nil
			}
		}
		out[i] = &c
	}
	return out
}

func sameGateways(t *testing.T, got, want []*Gateway) {
	t.Helper()
	got = strip(t, got)
	if len(got) != len(want) {
		t.Fatalf("got %d gateways, want %d", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("gateway %d\n got: %+v\nwant: %+v", i, *got[i], *want[i])
		}
	}
}

func TestDecodeSeed(t *testing.T) {
	for _, c := range []struct{ name, in string }{{"yaml", seedYAML}, {"json", seedJSON}} {
		t.Run(c.name, func(t *testing.T) {
			g, err := DecodeOne([]byte(c.in), "")
			if err != nil {
				t.Fatal(err)
			}
			sameGateways(t, []*Gateway{g}, []*Gateway{seedGateway(1)})
		})
	}
	// The testdata copy is the same seven lines.
	if data, err := os.ReadFile("testdata/valid/seed.yaml"); err != nil || string(data) != seedYAML {
		t.Errorf("testdata/valid/seed.yaml differs from the seed (%v)", err)
	}
}

func TestDecodeValidFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(validFiles) {
		t.Errorf("%d files in testdata/valid, %d in validFiles", len(files), len(validFiles))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, ok := validFiles[filepath.Base(f)]
			if !ok {
				t.Fatal("no expectation in validFiles")
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data, filepath.Base(f))
			if err != nil {
				t.Fatal(err)
			}
			sameGateways(t, got, want)
		})
	}
}

// fakeRequest is just enough of a request for a condition.
type fakeRequest struct{ ua string }

func (r fakeRequest) Host() []byte { return []byte("example.com") }
func (r fakeRequest) Header(name []byte) ([]byte, bool) {
	if strings.EqualFold(string(name), "user-agent") {
		return []byte(r.ua), true
	}
	return nil, false
}
func (r fakeRequest) Cookie([]byte) ([]byte, bool) { return nil, false }
func (r fakeRequest) Path() []byte                 { return []byte("/") }
func (r fakeRequest) Method() []byte               { return []byte("GET") }
func (r fakeRequest) Query([]byte) ([]byte, bool)  { return nil, false }
func (r fakeRequest) Source() netip.Addr           { return netip.MustParseAddr("10.0.0.1") }

var _ condition.Request = fakeRequest{}

// The doc example's point: Firefox users, and only them, match service B.
func TestDecodeFirefoxConditionMatches(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/vamp-firefox.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := DecodeOne(data, "vamp-firefox.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := g.Routes[1].Match
	if !m.Match(fakeRequest{"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"}) {
		t.Error("a Firefox user agent does not match")
	}
	if m.Match(fakeRequest{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"}) {
		t.Error("a Chrome user agent matches")
	}
}

func TestDecodeOne(t *testing.T) {
	// A one-element list is one gateway, as in Vamp.
	g, err := DecodeOne([]byte("- "+strings.ReplaceAll(strings.TrimSpace(seedYAML), "\n", "\n  ")+"\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	sameGateways(t, []*Gateway{g}, []*Gateway{seedGateway(1)})

	for _, c := range []struct{ name, in, want string }{
		{"two in a list", "- name: a\n- name: b\n", `line 2:3: gateway "b": expected one gateway, got 2`},
		{"two in a stream", "name: a\n---\nname: b\n", `line 3:1: gateway "b": expected one gateway, got 2`},
		{"empty", "", `expected one gateway, got none`},
		{"only comments", "# nothing\n", `expected one gateway, got none`},
		{"empty list", "[]", `expected one gateway, got none`},
		{"invalid", "name: a\nport: x\n", `line 2:7: gateway "a": port: port must be like 8080, "8080/http" or "8080/tcp" with a number 1-65535, got "x"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, err := DecodeOne([]byte(c.in), "")
			if err == nil {
				t.Fatalf("DecodeOne succeeded: %+v", g)
			}
			if err.Error() != c.want {
				t.Errorf("error\n got: %s\nwant: %s", err, c.want)
			}
		})
	}
}

func TestDecodeEmpty(t *testing.T) {
	for _, in := range []string{"", "# nothing\n", "---\n---\n", "[]"} {
		gws, err := Decode([]byte(in), "f")
		if err != nil || len(gws) != 0 {
			t.Errorf("Decode(%q) = %v, %v; want no gateways and no error", in, gws, err)
		}
	}
}

func TestDecodeRouteShorthands(t *testing.T) {
	want := []Route{static("10.0.0.1", 80, 3300), static("10.0.0.2", 80, 3300), static("10.0.0.3", 80, 3400)}
	for _, in := range []string{
		`{name: a, routes: ["[10.0.0.1:80]", "[10.0.0.2:80]", "[10.0.0.3:80]"]}`,
		`{name: a, routes: [{"[10.0.0.1:80]": , "[10.0.0.2:80]": {}}, "[10.0.0.3:80]"]}`,
		`{name: a, routes: {"[10.0.0.1:80]": null, "[10.0.0.2:80]": {weight: null}, "[10.0.0.3:80]": {}}}`,
	} {
		g, err := DecodeOne([]byte(in), "")
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if !reflect.DeepEqual(g.Routes, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", in, g.Routes, want)
		}
	}
}

// Fields Vamp's GET wrote are taken as written; output-only ones are
// ignored whatever they hold.
func TestDecodeAcceptsVampOutputForms(t *testing.T) {
	in := `{"name": "a", "kind": "gateway", "internal": true, "deployed": false, "lookup_name": "x",
"service": {"host": "h", "port": 1}, "metadata": {"k": ["v"]}, "port": 8080, "sticky": "NONE",
"virtual_hosts": "A.Example.com",
"routes": {"[a:1]": {"weight": "100%", "condition": {"condition": ""}, "condition_strength": "0%",
"balance": "DEFAULT", "rewrites": [], "targets": [{"url": "http://a:1"}], "lookup_name": "y"}}}`
	g, err := DecodeOne([]byte(in), "")
	if err != nil {
		t.Fatal(err)
	}
	want := &Gateway{Name: "a", Port: Port{8080, HTTP}, VirtualHosts: []string{"a.example.com"}, Routes: []Route{static("a", 1, Full)}, Line: 1}
	sameGateways(t, []*Gateway{g}, []*Gateway{want})
}

// JSON's `\/` escape is not YAML's; Decode takes it anyway.
func TestDecodeJSONSlashEscape(t *testing.T) {
	in := `{"name": "a\/b", "routes": {"marathon:\/app": {"condition": "path == '\\\/x'"}}}`
	g, err := DecodeOne([]byte(in), "")
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "a/b" || g.Routes[0].Name != "marathon:/app" || g.Routes[0].Condition != `path == '\/x'` {
		t.Errorf("got name %q, route %q, condition %q", g.Name, g.Routes[0].Name, g.Routes[0].Condition)
	}
}

// Aliases can make a small document walk like a huge one; Decode stops,
// here at the visit budget.
func TestDecodeAliasBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("- &g\n  name: a\n  routes: {")
	for i := range 500 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"[a:` + strconv.Itoa(i+1) + `]": {weight: 0%}`)
	}
	b.WriteString("}\n" + strings.Repeat("- *g\n", 5000))
	_, err := Decode([]byte(b.String()), "bomb.yaml")
	if err == nil || !strings.Contains(err.Error(), "document too complex: its aliases expand to too many nodes") {
		t.Errorf("error = %v", err)
	}
}

// Here at maxErrors, since every alias of the routes repeats their keys.
func TestDecodeAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("- &g\n  name: a\n  routes: [&r {")
	for i := range 500 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"[a:` + strconv.Itoa(i+1) + `]": {weight: 0%}`)
	}
	b.WriteString("}" + strings.Repeat(", *r", 500) + "]\n")
	b.WriteString(strings.Repeat("- *g\n", 2000))
	start := time.Now()
	_, err := Decode([]byte(b.String()), "bomb.yaml")
	if err == nil {
		t.Fatal("Decode succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Decode took %v", d)
	}
	var list ErrorList
	if !errors.As(err, &list) || len(list) > maxErrors+1 {
		t.Errorf("want at most %d errors, got %d", maxErrors+1, len(list))
	}
	if last := list[len(list)-1].Error(); last != "bomb.yaml: too many errors, stopped after 100" {
		t.Errorf("last error = %q", last)
	}
}

func TestValidateSet(t *testing.T) {
	gws := []*Gateway{
		{Name: "a", Port: Port{8080, HTTP}, Line: 1},
		{Name: "b", Port: Port{8080, TCP}, Line: 5},
		{Name: "c", Port: Port{0, HTTP}},
		{Name: "d", Port: Port{0, HTTP}},
		{Name: "a", Port: Port{9090, HTTP}, Line: 9},
	}
	want := `line 5: gateway "b": port: port 8080 is used by gateways a and b` + "\n" +
		`line 9: gateway "a": name: duplicate gateway name "a" (first at line 1)`
	if err := ValidateSet(gws); err == nil || err.Error() != want {
		t.Errorf("ValidateSet error\n got: %v\nwant: %s", err, want)
	}
	if err := ValidateSet(gws[:1]); err != nil {
		t.Errorf("ValidateSet of one gateway: %v", err)
	}
	if err := ValidateSet([]*Gateway{{Name: "x", Port: Port{80, HTTP}}, {Name: "x", Port: Port{81, HTTP}}}); err == nil ||
		err.Error() != `gateway "x": name: duplicate gateway name "x"` {
		t.Errorf("ValidateSet without lines: %v", err)
	}
}

// A gateway as Vamp's API wrote it, every field of GatewaySerializer and
// RouteDecomposer (magneticio/vamp model/src/main/scala/io/vamp/model/
// serialization/GatewaySerializationFormat.scala): the gateway's kind,
// metadata, lookup_name, internal, service, deployed and selector; a named
// route's name, kind and metadata; selector, weight, balance and
// condition_strength as null; a condition and a rewrite written as named
// artefacts ({name, kind, metadata, condition} and {name, kind, path}).
func TestDecodeEveryFieldVampWrites(t *testing.T) {
	in := `{"name": "sava", "kind": "gateways", "metadata": {}, "lookup_name": "6f4c6c2b", "internal": false,
"service": {"host": "10.0.0.9", "port": "40001/http"}, "deployed": true, "port": "8080/http",
"sticky": null, "virtual_hosts": ["sava.vamp"], "selector": null,
"routes": {
 "[a:1]": {"metadata": {}, "lookup_name": "1a", "selector": null, "weight": "90%", "balance": "default",
  "condition": null, "condition_strength": null, "rewrites": [], "targets": [{"url": "http://a:1"}]},
 "[b:2]": {"name": "beta", "kind": "routes", "metadata": {"owner": "team"}, "lookup_name": "2b", "selector": null,
  "weight": "10%", "balance": "default",
  "condition": {"name": "firefox", "kind": "conditions", "metadata": {}, "condition": "user-agent == Firefox"},
  "condition_strength": "50%",
  "rewrites": [{"name": "v2", "kind": "rewrites", "path": "/v2%[path] if host == a"}],
  "targets": [{"url": "http://b:2"}]}}}`
	g, err := DecodeOne([]byte(in), "")
	if err != nil {
		t.Fatal(err)
	}
	b := static("b", 2, 1000)
	b.Condition, b.ConditionStrength = "user-agent == Firefox", 5000
	b.Rewrites = []Rewrite{{Path: "/v2%[path]", Condition: "host == a"}}
	want := &Gateway{Name: "sava", Port: Port{8080, HTTP}, VirtualHosts: []string{"sava.vamp"},
		Routes: []Route{static("a", 1, 9000), b}, Line: 1}
	sameGateways(t, []*Gateway{g}, []*Gateway{want})
}

// Vamp's own test artefacts write external route keys without quotes
// (model/src/test/resources/io/vamp/model/reader/gateway/gateway7.yml:
// `[external/1/2]:`), which YAML reads as a list of one string; Vamp read
// the key "[external/1/2]" (GatewayReaderSpec.scala, "parse external
// route"). The same goes for the list form.
func TestDecodeUnquotedRouteKeys(t *testing.T) {
	for _, c := range []struct{ name, in string }{
		{"mapping", "name: sava\nport: 8080/http\nroutes:\n  [a:1]:\n    weight: 40%\n  [b:2]:\n    weight: 60%\n"},
		{"list", "name: sava\nport: 8080/http\nroutes:\n- [a:1]:\n    weight: 40%\n- [b:2]:\n    weight: 60%\n"},
		{"quoted", "name: sava\nport: 8080/http\nroutes:\n  \"[a:1]\":\n    weight: 40%\n  '[b:2]':\n    weight: 60%\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, err := DecodeOne([]byte(c.in), "")
			if err != nil {
				t.Fatal(err)
			}
			want := &Gateway{Name: "sava", Port: Port{8080, HTTP}, Routes: []Route{static("a", 1, 4000), static("b", 2, 6000)}, Line: 1}
			sameGateways(t, []*Gateway{g}, []*Gateway{want})
		})
	}
	// Vamp's gateway7.yml itself: the key reads as Vamp read it, then
	// Turnout refuses the target, which is no address.
	_, err := DecodeOne([]byte("name: sava\nport: 8080/http\nsticky: route\n\nroutes:\n  [external/1/2]:\n    weight: 100%"), "gateway7.yml")
	if want := `gateway7.yml:6:3: gateway "sava": routes."[external/1/2]": route target "[external/1/2]" needs a port, like "[host:port]"`; err == nil || err.Error() != want {
		t.Errorf("gateway7.yml: %v\nwant %s", err, want)
	}
}

// A route with Vamp's selector is keyed by its name; its target is the
// Marathon backend's selection, held until ready like any plugin target,
// and the selector is written back (GatewaySerializationFormat.scala
// writes a route's selector).
func TestDecodeRouteSelector(t *testing.T) {
	in := "name: sava\nport: 8080\nroutes:\n  sava10:\n    selector: label(io.vamp.deployment)(sava:1.0.*)\n    weight: 90%\n" +
		"  sava11:\n    selector: \" label(io.vamp.deployment)(sava:1.1.*) and port(8080) \"\n    weight: 10%\n    require_ready: false\n"
	g, err := DecodeOne([]byte(in), "")
	if err != nil {
		t.Fatal(err)
	}
	r0, r1 := g.Routes[0], g.Routes[1]
	if r0.Name != "sava10" || r0.Selector != "label(io.vamp.deployment)(sava:1.0.*)" || r0.Target != SelectorTarget(r0.Selector) || !r0.RequireReady {
		t.Errorf("route 0: %+v", r0)
	}
	if r1.Selector != "label(io.vamp.deployment)(sava:1.1.*) and port(8080)" || r1.Target.Ref != "selector:"+r1.Selector || r1.RequireReady {
		t.Errorf("route 1: %+v", r1)
	}
	j, err := g.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"sava10":{"selector":"label(io.vamp.deployment)(sava:1.0.*)","weight":"90%"}`, `"require_ready":false`} {
		if !strings.Contains(string(j), want) {
			t.Errorf("written %s, want %s in it", j, want)
		}
	}
	back, err := DecodeOne(j, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Routes, g.Routes) {
		t.Errorf("read back: %+v\nwant %+v", back.Routes, g.Routes)
	}
}

// A route's mirror names another route and a share, and is written back.
func TestDecodeMirror(t *testing.T) {
	g, err := DecodeOne([]byte("name: a\nport: 8080\nroutes:\n  \"[a:1]\":\n    weight: 100%\n    mirror: {route: \"[b:1]\", share: 25%}\n  \"[b:1]\":\n    weight: 0%\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if m := g.Routes[0].Mirror; m == nil || m.Route != "[b:1]" || m.Share != 2500 {
		t.Fatalf("mirror %+v", m)
	}
	j, _ := g.MarshalJSON()
	if !strings.Contains(string(j), `"mirror":{"route":"[b:1]","share":"25%"}`) {
		t.Errorf("written %s", j)
	}
	if back, err := DecodeOne(j, ""); err != nil || !reflect.DeepEqual(back.Routes[0].Mirror, g.Routes[0].Mirror) {
		t.Errorf("read back: %v %+v", err, back)
	}
}

// Vamp kept the port as written (Port.value, GatewayReaderSpec's
// Port("8080", None, Some("8080"))) and wrote it back so.
func TestPortWrittenAsGiven(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`port: 8080`, `"8080"`},
		{`port: "8080"`, `"8080"`},
		{`port: 8080/http`, `"8080/http"`},
		{`port: 8080/tcp`, `"8080/tcp"`},
		{`port: 8080/HTTP`, `"8080/HTTP"`},
		{``, `"0/http"`},
	} {
		g, err := DecodeOne([]byte("name: a\n"+c.in+"\n"), "")
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if j, _ := g.MarshalJSON(); !strings.Contains(string(j), `"port":`+c.want) {
			t.Errorf("%s: written %s, want port %s", c.in, j, c.want)
		}
	}
	// A port assigned or changed after reading is written in full.
	g, err := DecodeOne([]byte("name: a\nport: 8080\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	g.Port.Number = 8081
	if j, _ := g.MarshalJSON(); !strings.Contains(string(j), `"port":"8081/http"`) {
		t.Errorf("changed port written %s", j)
	}
}

// Vamp accepted condition_strength without a condition (GatewayReader.scala,
// validateGatewayRouteConditionStrengths checks only 0-100%); it does
// nothing, and the answer says so.
func TestStrengthWithoutConditionWarns(t *testing.T) {
	g, err := DecodeOne([]byte("name: a\nroutes:\n  \"[a:1]\":\n    condition_strength: 50%\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Warning{{Field: `routes."[a:1]".condition_strength`, Message: ErrStrengthWithoutCondition.Error()}}
	if !reflect.DeepEqual(g.Warnings, want) {
		t.Errorf("warnings %+v, want %+v", g.Warnings, want)
	}
	j, _ := g.MarshalJSON()
	if !strings.Contains(string(j), `"condition_strength":"50%"`) ||
		!strings.Contains(string(j), `"warnings":["routes.\"[a:1]\".condition_strength: condition_strength has no effect without a condition"]`) {
		t.Errorf("written %s", j)
	}
	// Written back, it reads the same, warning included.
	back, err := DecodeOne(j, "")
	if err != nil || !reflect.DeepEqual(back.Warnings, want) || back.Routes[0].ConditionStrength != 5000 {
		t.Errorf("read back %+v %v", back, err)
	}
}
