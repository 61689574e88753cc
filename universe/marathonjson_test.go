package universe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/turnout/turnout/core/gateway"
)

// marathon-json/ holds what the README's DC/OS walkthrough posts: the
// Turnout agent as a plain Marathon app (checked against the package in
// TestDefaults), the seed's two example services, and the seed's gateway.
const marathonJSON = "../marathon-json"

// The seed's gateway, as the README gives it.
const seedGateway = `name: simpleservice
port: 8080/http
routes:
  "[simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000]":
    weight: 50%
  "[simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000]":
    weight: 50%
`

func TestMarathonJSONApps(t *testing.T) {
	files, err := filepath.Glob(marathonJSON + "/*.json")
	if err != nil {
		t.Fatal(err)
	}
	apps := map[string]map[string]any{}
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "gateway-") {
			continue
		}
		v, err := readJSONFile(f)
		if err != nil {
			t.Fatal(err)
		}
		app := v.(map[string]any)
		validateApp(t, f, app)
		apps[filepath.Base(f)] = app
	}
	for _, want := range []string{"turnout.json", "simple-service-1.0.0.json", "simple-service-1.1.0.json"} {
		if apps[want] == nil {
			t.Errorf("marathon-json/%s is missing", want)
		}
	}
	// Each example service is named by its VIP_0 label, as in the seed.
	for _, v := range []string{"1.0.0", "1.1.0"} {
		app := apps["simple-service-"+v+".json"]
		if app == nil {
			continue
		}
		id := "/simple-service-" + v
		if app["id"] != id {
			t.Errorf("%s: id %v", id, app["id"])
		}
		labels := app["portDefinitions"].([]any)[0].(map[string]any)["labels"].(map[string]any)
		if labels["VIP_0"] != id+":3000" {
			t.Errorf("%s: VIP_0 = %v, want %s:3000", id, labels["VIP_0"], id)
		}
		if cmd, _ := app["cmd"].(string); !strings.Contains(cmd, "hello from simple-service-"+v) || !strings.Contains(cmd, "$PORT0") {
			t.Errorf("%s: cmd %q should answer with its name on $PORT0", id, cmd)
		}
	}
}

// The gateway files are gateways Turnout accepts, the YAML one is the
// seed's seven lines, the JSON one is the same gateway, and every route
// points at one of the example services' VIPs.
func TestMarathonJSONGateways(t *testing.T) {
	vips := map[string]string{} // DNS name:port -> VIP label
	for _, v := range []string{"1.0.0", "1.1.0"} {
		app, err := readJSONFile(marathonJSON + "/simple-service-" + v + ".json")
		if err != nil {
			t.Fatal(err)
		}
		label := app.(map[string]any)["portDefinitions"].([]any)[0].(map[string]any)["labels"].(map[string]any)["VIP_0"].(string)
		vips[vipAddress(label)] = label
	}

	decode := func(name string) *gateway.Gateway {
		t.Helper()
		data, err := os.ReadFile(marathonJSON + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		g, err := gateway.DecodeOne(data, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return g
	}
	seed, err := os.ReadFile(marathonJSON + "/gateway-simpleservice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(seed) != seedGateway {
		t.Errorf("gateway-simpleservice.yaml is not the seed's gateway:\n%s", seed)
	}
	yml, jsn := decode("gateway-simpleservice.yaml"), decode("gateway-simpleservice.json")
	if a, b := encode(t, yml), encode(t, jsn); a != b {
		t.Errorf("the YAML and JSON gateways differ:\n%s\n%s", a, b)
	}
	for _, r := range yml.Routes {
		if r.Target.Kind != gateway.Static || r.Weight != gateway.Full/2 {
			t.Errorf("route %s: %+v", r.Name, r)
		}
		if _, ok := vips[r.Target.Host+":"+itoa(r.Target.Port)]; !ok {
			t.Errorf("route %s is none of the example services' VIPs %v", r.Name, vips)
		}
	}

	mm := decode("gateway-simpleservice-minuteman.yaml")
	if mm.Name != yml.Name || mm.Port != yml.Port || len(mm.Routes) != 2 {
		t.Errorf("the Minuteman variant is not the same gateway: %s", encode(t, mm))
	}
	labels := map[string]bool{}
	for _, l := range vips {
		labels[l] = true
	}
	for _, r := range mm.Routes {
		if r.Target.Kind != gateway.Minuteman || !labels[r.Target.Ref] || r.Weight != gateway.Full/2 {
			t.Errorf("route %s: want minuteman: and one of the VIP labels %v", r.Name, vips)
		}
	}
}

// vipAddress is the DNS name and port dcos-net gives a named VIP of a
// Marathon app (dcos-net's mesos_state:domain_frag/1): the name split on
// dots, each part lower-cased, '-', '_' and '.' made '-', any other
// character but letters and digits dropped (the slash too), leading
// non-alphanumerics and trailing '-' cut, at most 63 characters.
func vipAddress(label string) string {
	i := strings.LastIndex(label, ":")
	name, port := label[:i], label[i+1:]
	var parts []string
	for _, p := range strings.Split(name, ".") {
		var b strings.Builder
		for _, r := range strings.ToLower(p) {
			switch {
			case r == '-' || r == '_':
				b.WriteByte('-')
			case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
				b.WriteRune(r)
			}
		}
		f := strings.TrimRight(strings.TrimLeftFunc(b.String(), func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r)
		}), "-")
		if len(f) > 63 {
			f = f[:63]
		}
		if f != "" {
			parts = append(parts, f)
		}
	}
	return strings.Join(parts, ".") + ".marathon.l4lb.thisdcos.directory:" + port
}

func TestVIPAddress(t *testing.T) {
	// The examples of research/dcos-ecosystem.md section 4.2.
	for label, want := range map[string]string{
		"/my-service:5555":           "my-service.marathon.l4lb.thisdcos.directory:5555",
		"myservice:6666":             "myservice.marathon.l4lb.thisdcos.directory:6666",
		"/mygroup/my-service:80":     "mygroupmy-service.marathon.l4lb.thisdcos.directory:80",
		"/My_App:80":                 "my-app.marathon.l4lb.thisdcos.directory:80",
		"/foo.bar:80":                "foo.bar.marathon.l4lb.thisdcos.directory:80",
		"/simple-service-1.0.0:3000": "simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000",
	} {
		if got := vipAddress(label); got != want {
			t.Errorf("vipAddress(%q) = %s, want %s", label, got, want)
		}
	}
}

func encode(t *testing.T, g *gateway.Gateway) string {
	t.Helper()
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func itoa(i int) string { return jsonInt(i).String() }
