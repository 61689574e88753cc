package universe

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden and marathon-json/turnout.json from the renderer's output")

// The plain Marathon app of marathon-json/ is the package rendered with
// its defaults, so that the two ways of installing Turnout cannot drift.
const (
	goldenDefaults = "testdata/golden/marathon-defaults.json"
	plainApp       = "../marathon-json/turnout.json"
)

// Marathon-LB's package, rendered with its defaults and with every
// switch that adds ports on, holds every port a Marathon-LB may reserve.
func marathonLBPorts(t *testing.T) map[int]bool {
	t.Helper()
	ports := map[int]bool{}
	for _, opts := range []string{"", `{"marathon-lb": {"auto-assign-service-ports": true}}`} {
		for _, p := range renderMLB(t, opts)["ports"].([]any) {
			ports[toInt(t, p)] = true
		}
	}
	return ports
}

// Ports that DC/OS agents offer to tasks by default: all of 1025-32000 but
// those DC/OS itself uses (ZooKeeper, Exhibitor, Mesos, Marathon).
var dcosAgentPorts = [][2]int{{1025, 2180}, {2182, 3887}, {3889, 5049}, {5052, 8079}, {8082, 8180}, {8182, 32000}}

// Marathon assigns service ports from 10000-20000 (local_port_min/max),
// and Marathon-LB binds the service port of every app it exposes.
var marathonServicePorts = [2]int{10000, 20000}

// serveArgs reads the flags of the app's command line, which is only ever
// made of validated options (numbers, enums, patterns): no quoting.
func serveArgs(t *testing.T, app map[string]any) map[string]string {
	t.Helper()
	cmd, _ := app["cmd"].(string)
	const prefix = "exec ./turnout serve "
	if !strings.HasPrefix(cmd, prefix) {
		t.Fatalf("cmd %q does not start with %q", cmd, prefix)
	}
	flags := map[string]string{}
	words := strings.Fields(strings.TrimPrefix(cmd, prefix))
	for i := 0; i < len(words); i++ {
		name, ok := strings.CutPrefix(words[i], "--")
		if !ok {
			t.Fatalf("cmd %q: %q is not a flag", cmd, words[i])
		}
		if i+1 < len(words) && !strings.HasPrefix(words[i+1], "--") {
			flags[name] = words[i+1]
			i++
		} else {
			flags[name] = "true"
		}
	}
	return flags
}

func parseRange(t *testing.T, s string) (int, int) {
	t.Helper()
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || lo > hi {
		t.Fatalf("bad port range %q", s)
	}
	return lo, hi
}

// checkApp holds what every rendering of our package must satisfy.
func checkApp(t *testing.T, name string, app map[string]any, mlbPorts map[int]bool) {
	t.Helper()
	validateApp(t, name, app)
	checkStore(t, name, app)
	if !reflect.DeepEqual(app["constraints"], []any{[]any{"hostname", "UNIQUE"}}) {
		t.Errorf("%s: constraints %v, want one task per agent", name, app["constraints"])
	}
	if app["requirePorts"] != true {
		t.Errorf("%s: requirePorts is not true: ports would not be the host ports", name)
	}
	fetch := app["fetch"].([]any)[0].(map[string]any)
	if uri, _ := fetch["uri"].(string); !strings.HasSuffix(uri, ".tar.gz") || fetch["extract"] != true {
		t.Errorf("%s: first fetch %v, want a .tar.gz extracted into the sandbox", name, fetch)
	}

	flags := serveArgs(t, app)
	_, adminPort, _ := strings.Cut(flags["admin"], ":")
	lo, hi := parseRange(t, flags["port-range"])
	defs := app["portDefinitions"].([]any)
	admin := defs[0].(map[string]any)
	if admin["name"] != "admin" || fmt.Sprint(admin["port"]) != adminPort || flags["admin"] != "0.0.0.0:"+adminPort {
		t.Errorf("%s: portDefinitions[0] = %v, --admin %s: want the admin port first, on all addresses", name, admin, flags["admin"])
	}
	hc := app["healthChecks"].([]any)[0].(map[string]any)
	if hc["protocol"] != "MESOS_HTTP" || hc["path"] != "/healthz" || hc["portIndex"] != jsonInt(0) {
		t.Errorf("%s: health check %v, want MESOS_HTTP /healthz on the admin port", name, hc)
	}
	rc := app["readinessChecks"].([]any)[0].(map[string]any)
	// /readyz, not /healthz: a task whose gateways are not all in service
	// (a port held by another process) must stop an upgrade.
	if rc["path"] != "/readyz" || rc["portName"] != "admin" {
		t.Errorf("%s: readiness check %v, want /readyz on the admin port", name, rc)
	}

	// Ports: the admin port outside the gateway range; nothing that
	// Marathon-LB reserves or binds; only ports agents offer.
	var ports []int
	for i, d := range defs {
		p := toInt(t, d.(map[string]any)["port"])
		ports = append(ports, p)
		if i > 0 && (p < lo || p > hi) {
			t.Errorf("%s: reserved port %d is outside --port-range %d-%d", name, p, lo, hi)
		}
	}
	admin0 := ports[0]
	if admin0 >= lo && admin0 <= hi {
		t.Errorf("%s: admin port %d inside the gateway range %d-%d", name, admin0, lo, hi)
	}
	for _, p := range ports {
		if mlbPorts[p] {
			t.Errorf("%s: port %d is also Marathon-LB's", name, p)
		}
		if p >= marathonServicePorts[0] && p <= marathonServicePorts[1] {
			t.Errorf("%s: port %d is in Marathon's service port range, which Marathon-LB binds", name, p)
		}
		if !slices.ContainsFunc(dcosAgentPorts, func(r [2]int) bool { return p >= r[0] && p <= r[1] }) {
			t.Errorf("%s: port %d is not offered by DC/OS agents", name, p)
		}
	}
	for p := range mlbPorts {
		if p >= lo && p <= hi {
			t.Errorf("%s: --port-range %d-%d holds Marathon-LB's port %d", name, lo, hi, p)
		}
	}

	// Marathon-LB must not expose Turnout's ports: it would bind them on
	// the same public agents. A group no Marathon-LB serves keeps the
	// usual ones away; HAPROXY_n_ENABLED=false keeps even one started
	// with --group '*' away, port by port.
	labels := app["labels"].(map[string]any)
	if g := labels["HAPROXY_GROUP"]; g == nil || g == mlbDefault(t, "haproxy-group") {
		t.Errorf("%s: HAPROXY_GROUP %v lets the default Marathon-LB expose Turnout", name, g)
	}
	for i := range defs {
		if labels[fmt.Sprintf("HAPROXY_%d_ENABLED", i)] != "false" {
			t.Errorf("%s: port index %d has no HAPROXY_%d_ENABLED=false label", name, i, i)
		}
	}

	// env values are strings or references to declared secrets, and
	// every declared secret is used: Marathon would still need an unused
	// one to exist in the secret store (and on open DC/OS refuse the app).
	secrets, _ := app["secrets"].(map[string]any)
	used := map[string]bool{}
	for k, v := range app["env"].(map[string]any) {
		if ref, ok := v.(map[string]any); ok {
			used[ref["secret"].(string)] = true
			if _, ok := secrets[ref["secret"].(string)]; !ok {
				t.Errorf("%s: env %s refers to undeclared secret %v", name, k, ref["secret"])
			}
		}
	}
	for s := range secrets {
		if !used[s] {
			t.Errorf("%s: secret %s is declared and not used", name, s)
		}
	}
	if len(secrets) == 0 && app["secrets"] != nil {
		t.Errorf("%s: empty secrets rendered", name)
	}

	// The admin API listens on every address of the agent: a token guards
	// it, or the app says --insecure-admin, never both and never neither
	// (turnout would refuse to start).
	_, token := app["env"].(map[string]any)["TURNOUT_TOKEN"]
	insecure := flags["insecure-admin"] == "true"
	if token == insecure {
		t.Errorf("%s: TURNOUT_TOKEN set: %v, --insecure-admin: %v; want exactly one", name, token, insecure)
	}
}

func mlbDefault(t *testing.T, field string) any {
	t.Helper()
	config, _, err := mlbPackage.readJSON("config.json")
	if err != nil {
		t.Fatal(err)
	}
	return defaultsOf(config)["marathon-lb"].(map[string]any)[field]
}

// renderOurs renders our package with options, returning the rendering
// reindented (the golden files' form) and decoded.
func renderOurs(t *testing.T, opts map[string]any) ([]byte, map[string]any, error) {
	t.Helper()
	out, app, err := ourPackage.render(opts)
	if err != nil {
		return nil, nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(out), "", "  "); err != nil {
		t.Fatal(err)
	}
	b.WriteByte('\n')
	return b.Bytes(), app, nil
}

func TestDefaults(t *testing.T) {
	mlb := marathonLBPorts(t)
	got, app, err := renderOurs(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkApp(t, "defaults", app, mlb)
	golden(t, goldenDefaults, got)
	golden(t, plainApp, got)

	// The defaults reserve exactly the default gateway range, beside the
	// admin port, and config.json's words match.
	flags := serveArgs(t, app)
	lo, hi := parseRange(t, flags["port-range"])
	defs := app["portDefinitions"].([]any)
	if len(defs)-1 != hi-lo+1 {
		t.Errorf("%d gateway ports reserved, --port-range %d-%d has %d", len(defs)-1, lo, hi, hi-lo+1)
	}
	if n := len(defs) - 1; n < 20 || n > 100 {
		t.Errorf("%d gateway ports reserved: keep the default range between 20 and 100 ports", n)
	}
	config, err := ourPackage.read("config.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(config, []byte("Reserve "+flags["port-range"])) {
		t.Errorf("config.json's reserve_ports does not name the reserved range %s", flags["port-range"])
	}
	pkg, err := ourPackage.read("package.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{flags["port-range"], ":" + flags["admin"][len("0.0.0.0:"):]} {
		if !bytes.Contains(pkg, []byte(s)) {
			t.Errorf("package.json's notes do not mention %s", s)
		}
	}
	if app["id"] != "/turnout" || app["instances"] != jsonInt(1) || !reflect.DeepEqual(app["acceptedResourceRoles"], []any{"slave_public"}) {
		t.Errorf("defaults: id %v, instances %v, roles %v", app["id"], app["instances"], app["acceptedResourceRoles"])
	}
	// The admin API on the public agents is guarded by default, with a
	// token from the DC/OS secret the docs tell operators to create.
	wantEnv := map[string]any{
		"TURNOUT_STORE":        "zk://master.mesos:2181/turnout/turnout",
		"TURNOUT_MARATHON_URL": "http://marathon.mesos:8080",
		"TURNOUT_TOKEN":        map[string]any{"secret": "token"},
	}
	if env := app["env"].(map[string]any); !reflect.DeepEqual(env, wantEnv) {
		t.Errorf("defaults: env %v\nwant %v: the store in DC/OS's ZooKeeper under the service's name, the Marathon URL and the admin token from a secret", env, wantEnv)
	}
	if want := map[string]any{"token": map[string]any{"source": "turnout/admin-token"}}; !reflect.DeepEqual(app["secrets"], want) {
		t.Errorf("defaults: secrets %v, want %v", app["secrets"], want)
	}
	if _, ok := flags["insecure-admin"]; ok {
		t.Error("defaults: --insecure-admin")
	}
	for _, doc := range []string{"../docs/install-dcos.md", "../marathon-json/README.md", "README.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("dcos security secrets create")) || !bytes.Contains(b, []byte("turnout/admin-token")) {
			t.Errorf("%s does not say how to create the secret turnout/admin-token", doc)
		}
	}
}

// Each file in testdata/options is an --options file: the good ones render
// to a valid app (kept in testdata/golden), the bad-* ones are refused with
// the schema error kept in testdata/golden/bad-*.txt.
func TestOptionFiles(t *testing.T) {
	mlb := marathonLBPorts(t)
	_, defaults, err := renderOurs(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]func(t *testing.T, app map[string]any){
		"several-agents": func(t *testing.T, app map[string]any) {
			flags := serveArgs(t, app)
			if app["instances"] != jsonInt(3) || flags["log-format"] != "json" || flags["log-level"] != "debug" || flags["access-log"] != "true" {
				t.Errorf("instances %v, flags %v", app["instances"], flags)
			}
			// Three tasks share one store: ZooKeeper's.
			if env := app["env"].(map[string]any); env["TURNOUT_STORE"] != "zk://master.mesos:2181/turnout/turnout" {
				t.Errorf("TURNOUT_STORE = %v", env["TURNOUT_STORE"])
			}
		},
		"enterprise": func(t *testing.T, app map[string]any) {
			env := app["env"].(map[string]any)
			want := map[string]any{
				"TURNOUT_TOKEN":                       map[string]any{"secret": "token"},
				"TURNOUT_DCOS_SERVICE_ACCOUNT_SECRET": map[string]any{"secret": "serviceAccount"},
				"TURNOUT_MARATHON_URL":                "https://marathon.mesos:8443",
				"TURNOUT_MARATHON_CA_CERT":            ".ssl/ca-bundle.crt",
				"TURNOUT_STORE":                       "zk://master.mesos:2181/turnout/turnout",
			}
			if !reflect.DeepEqual(env, want) {
				t.Errorf("env %v\nwant %v", env, want)
			}
			wantSecrets := map[string]any{
				"token":          map[string]any{"source": "turnout/admin-token"},
				"serviceAccount": map[string]any{"source": "turnout/service-account"},
			}
			if !reflect.DeepEqual(app["secrets"], wantSecrets) {
				t.Errorf("secrets %v\nwant %v", app["secrets"], wantSecrets)
			}
			if app["user"] != "nobody" {
				t.Errorf("user %v", app["user"])
			}
		},
		"plain-tokens": func(t *testing.T, app map[string]any) {
			env := app["env"].(map[string]any)
			if env["TURNOUT_TOKEN"] != `s3cr"et\token` || env["TURNOUT_DCOS_ACS_TOKEN"] != "eyJhbGciOi.x.y" {
				t.Errorf("env %v", env)
			}
			if _, ok := app["secrets"]; ok {
				t.Error("secrets rendered for plain tokens")
			}
		},
		"only-service-account": func(t *testing.T, app map[string]any) {
			// The admin token's default secret comes along.
			want := map[string]any{
				"token":          map[string]any{"source": "turnout/admin-token"},
				"serviceAccount": map[string]any{"source": "turnout/sa"},
			}
			if !reflect.DeepEqual(app["secrets"], want) {
				t.Errorf("secrets %v", app["secrets"])
			}
		},
		"token-wins-over-secret": func(t *testing.T, app map[string]any) {
			if tok := app["env"].(map[string]any)["TURNOUT_TOKEN"]; tok != "the-plain-token-wins" {
				t.Errorf("TURNOUT_TOKEN = %v, want the plain token", tok)
			}
			if _, ok := app["secrets"]; ok {
				t.Errorf("secrets %v rendered for a plain token", app["secrets"])
			}
		},
		"plain-token-service-account": func(t *testing.T, app map[string]any) {
			if tok := app["env"].(map[string]any)["TURNOUT_TOKEN"]; tok != "t0ken" {
				t.Errorf("TURNOUT_TOKEN = %v", tok)
			}
			if want := map[string]any{"serviceAccount": map[string]any{"source": "turnout/sa"}}; !reflect.DeepEqual(app["secrets"], want) {
				t.Errorf("secrets %v", app["secrets"])
			}
		},
		"insecure-admin": func(t *testing.T, app map[string]any) {
			if serveArgs(t, app)["insecure-admin"] != "true" {
				t.Errorf("cmd %v lacks --insecure-admin", app["cmd"])
			}
			if _, ok := app["secrets"]; ok {
				t.Errorf("secrets %v: the default token secret must not be required", app["secrets"])
			}
		},
		"insecure-admin-service-account": func(t *testing.T, app map[string]any) {
			if serveArgs(t, app)["insecure-admin"] != "true" {
				t.Errorf("cmd %v lacks --insecure-admin", app["cmd"])
			}
			if want := map[string]any{"serviceAccount": map[string]any{"source": "turnout/sa"}}; !reflect.DeepEqual(app["secrets"], want) {
				t.Errorf("secrets %v", app["secrets"])
			}
		},
		"plugins": func(t *testing.T, app map[string]any) {
			fetch := app["fetch"].([]any)
			if len(fetch) != 2 || fetch[1].(map[string]any)["uri"] != "https://repo.example.com/turnout-plugins-1.2.tar.gz" {
				t.Errorf("fetch %v", fetch)
			}
			env := app["env"].(map[string]any)
			if env["TURNOUT_PLUGIN_DIR"] != "plugins" || !strings.HasPrefix(env["TURNOUT_PLUGIN_CHECKSUMS"].(string), "turnout-plugin-policy-officehours=") {
				t.Errorf("env %v", env)
			}
		},
		"private-agents": func(t *testing.T, app map[string]any) {
			if app["id"] != "/infra/turnout" || !reflect.DeepEqual(app["acceptedResourceRoles"], []any{"*"}) {
				t.Errorf("id %v, roles %v", app["id"], app["acceptedResourceRoles"])
			}
			// The binary from the options' mirror, not the package's URL.
			opts, err := readJSONFile("testdata/options/private-agents.json")
			if err != nil {
				t.Fatal(err)
			}
			want := opts.(map[string]any)["service"].(map[string]any)["binary_url"]
			if u := app["fetch"].([]any)[0].(map[string]any)["uri"]; u != want || !strings.HasPrefix(u.(string), "https://mirror.example.com/") {
				t.Errorf("binary from %v, want the options' %v", u, want)
			}
			if l := app["labels"].(map[string]any); l["DCOS_SERVICE_NAME"] != "infra/turnout" {
				t.Errorf("DCOS_SERVICE_NAME %v", l["DCOS_SERVICE_NAME"])
			}
			// The default znode follows the service's name.
			if s := app["env"].(map[string]any)["TURNOUT_STORE"]; s != "zk://master.mesos:2181/turnout/infra/turnout" {
				t.Errorf("TURNOUT_STORE = %v", s)
			}
		},
		"any-role": func(t *testing.T, app map[string]any) {
			if _, ok := app["acceptedResourceRoles"]; ok {
				t.Error("acceptedResourceRoles rendered for an empty role")
			}
		},
		"unreserved-range": func(t *testing.T, app map[string]any) {
			if defs := app["portDefinitions"].([]any); len(defs) != 1 {
				t.Errorf("%d ports reserved, want only the admin port", len(defs))
			}
			if serveArgs(t, app)["port-range"] != "30000-30099" {
				t.Errorf("cmd %v", app["cmd"])
			}
		},
		"zookeeper": func(t *testing.T, app map[string]any) {
			// Only the store URL differs from the defaults.
			if s := app["env"].(map[string]any)["TURNOUT_STORE"]; s != "zk://zk-1.example.com:2181,zk-2.example.com:2181,zk-3.example.com/prod/turnout" {
				t.Errorf("TURNOUT_STORE = %v", s)
			}
			withDefaultStore := maps.Clone(app)
			env := maps.Clone(app["env"].(map[string]any))
			env["TURNOUT_STORE"] = defaults["env"].(map[string]any)["TURNOUT_STORE"]
			withDefaultStore["env"] = env
			if !reflect.DeepEqual(withDefaultStore, defaults) {
				t.Error("the zookeeper options changed more than TURNOUT_STORE")
			}
		},
		"volume": func(t *testing.T, app map[string]any) {
			// checkStore holds Marathon's rules for a resident app; here,
			// the options' values.
			vol := app["container"].(map[string]any)["volumes"].([]any)[0].(map[string]any)
			if vol["persistent"].(map[string]any)["size"] != jsonInt(1024) {
				t.Errorf("volume %v, want 1024 MiB", vol)
			}
			if !reflect.DeepEqual(app["acceptedResourceRoles"], []any{"*"}) || app["instances"] != jsonInt(1) {
				t.Errorf("roles %v, instances %v", app["acceptedResourceRoles"], app["instances"])
			}
		},
		"full": func(t *testing.T, app map[string]any) {
			full, err := readJSONFile("testdata/options/full.json")
			if err != nil {
				t.Fatal(err)
			}
			config, _, err := ourPackage.readJSON("config.json")
			if err != nil {
				t.Fatal(err)
			}
			// Every option is given, so that every one is rendered at
			// least once with a value of its own.
			for _, missing := range missingOptions(config, full, "") {
				t.Errorf("full.json does not set %s", missing)
			}
			env := app["env"].(map[string]any)
			if app["id"] != "/edge/turnout" || app["instances"] != jsonInt(2) || app["user"] != "nobody" ||
				env["TURNOUT_STORE"] != "zk://zk-1.example.com:2181,zk-2.example.com:2181/edge/turnout" ||
				serveArgs(t, app)["admin"] != "0.0.0.0:9882" || serveArgs(t, app)["log-level"] != "warn" {
				t.Errorf("id %v, instances %v, user %v, env %v, cmd %v", app["id"], app["instances"], app["user"], env, app["cmd"])
			}
		},
	}
	files, err := filepath.Glob("testdata/options/*.json")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			v, err := readJSONFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, app, err := renderOurs(t, v.(map[string]any))
			if strings.HasPrefix(name, "bad-") {
				seen[name] = true
				var mismatch *schemaMismatchError
				if !errors.As(err, &mismatch) {
					t.Fatalf("got %v, want a schema error", err)
				}
				golden(t, "testdata/golden/"+name+".txt", []byte(mismatch.problems+"\n"))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkApp(t, name, app, mlb)
			golden(t, "testdata/golden/marathon-"+name+".json", got)
			check, ok := checks[name]
			if !ok {
				t.Fatalf("no checks for %s", f)
			}
			seen[name] = true
			check(t, app)
		})
	}
	for name := range checks {
		if !seen[name] {
			t.Errorf("testdata/options/%s.json is missing", name)
		}
	}
	if n := len(seen) - len(checks); n < 5 {
		t.Errorf("only %d bad option files", n)
	}
}

// Every combination of the security options either renders an app whose
// admin API a token guards (or that says --insecure-admin, as asked), or
// is refused by config.json: the package never serves an open admin API
// by accident. checkApp holds the invariants.
func TestSecurityOptionCombinations(t *testing.T) {
	mlb := marathonLBPorts(t)
	for _, tokenSecret := range []string{"", "ops/turnout-token"} {
		for _, token := range []string{"", "plain"} {
			for _, insecure := range []bool{false, true} {
				for _, sa := range []string{"", "ops/turnout-sa"} {
					opts := map[string]any{"security": map[string]any{
						"token_secret": tokenSecret, "token": token, "insecure_admin": insecure, "service_account_secret": sa,
					}}
					name := fmt.Sprintf("token_secret=%q token=%q insecure_admin=%v service_account_secret=%q", tokenSecret, token, insecure, sa)
					_, app, err := renderOurs(t, opts)
					var mismatch *schemaMismatchError
					refused := errors.As(err, &mismatch)
					if wantRefused := (insecure && token != "") || (!insecure && token == "" && tokenSecret == ""); refused != wantRefused {
						t.Errorf("%s: refused %v (%v), want %v", name, refused, err, wantRefused)
						continue
					}
					if refused {
						continue
					}
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					checkApp(t, name, app, mlb)
					env := app["env"].(map[string]any)
					switch {
					case token != "":
						if env["TURNOUT_TOKEN"] != token {
							t.Errorf("%s: TURNOUT_TOKEN %v, want the plain token", name, env["TURNOUT_TOKEN"])
						}
					case !insecure:
						secrets, _ := app["secrets"].(map[string]any)
						if !reflect.DeepEqual(secrets["token"], map[string]any{"source": tokenSecret}) {
							t.Errorf("%s: secrets %v, want the token from %s", name, secrets, tokenSecret)
						}
					}
				}
			}
		}
	}
}

// The admin port can be none of Marathon-LB's: config.json refuses each.
func TestAdminPortRefusesMarathonLBPorts(t *testing.T) {
	for p := range marathonLBPorts(t) {
		_, _, err := renderOurs(t, map[string]any{"gateways": map[string]any{"admin_port": jsonInt(p)}})
		var mismatch *schemaMismatchError
		if !errors.As(err, &mismatch) || !strings.Contains(mismatch.problems, "at /gateways/admin_port") {
			t.Errorf("admin_port %d (Marathon-LB's): got %v, want a schema error", p, err)
		}
	}
}

// resource.json points at what `make release` publishes for this
// version, and at icons that exist here at the promised sizes.
func TestResources(t *testing.T) {
	pkg, _, err := ourPackage.readJSON("package.json")
	if err != nil {
		t.Fatal(err)
	}
	version := pkg.(map[string]any)["version"].(string)
	res, _, err := ourPackage.readJSON("resource.json")
	if err != nil {
		t.Fatal(err)
	}
	assets := res.(map[string]any)["assets"].(map[string]any)
	release := "https://github.com/turnout/turnout/releases/download/v" + version + "/"
	for alias, u := range assets["uris"].(map[string]any) {
		u := u.(string)
		want := release + "SHA256SUMS"
		if arch, ok := strings.CutPrefix(alias, "turnout-linux-"); ok {
			want = release + "turnout-" + version + "-linux-" + arch + ".tar.gz"
		}
		if u != want {
			t.Errorf("%s = %s, want %s (make release's name)", alias, u, want)
		}
	}
	if img := assets["container"].(map[string]any)["docker"].(map[string]any)["turnout-docker"]; img != "turnout/turnout:"+version {
		t.Errorf("image %v is not version %s", img, version)
	}
	for alias, size := range map[string]int{"icon-small": 48, "icon-medium": 128, "icon-large": 256} {
		u := res.(map[string]any)["images"].(map[string]any)[alias].(string)
		const base = "https://raw.githubusercontent.com/turnout/turnout/main/"
		file, ok := strings.CutPrefix(u, base)
		if !ok {
			t.Errorf("%s = %s, want a file of this repository", alias, u)
			continue
		}
		w, h := pngSize(t, "../"+file)
		if w != size || h != size {
			t.Errorf("%s is %dx%d, want %dx%d", file, w, h, size, size)
		}
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./universe -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date (go test ./universe -update rewrites it); got:\n%s", path, got)
	}
}

func jsonInt(i int) json.Number    { return json.Number(strconv.Itoa(i)) }
func jsonNum(s string) json.Number { return json.Number(s) }

func toInt(t *testing.T, v any) int {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v is not a number", v)
	}
	i, err := strconv.Atoi(string(n))
	if err != nil {
		t.Fatalf("%v is not an integer", v)
	}
	return i
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func pngSize(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c.Width, c.Height
}
