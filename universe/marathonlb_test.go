package universe

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
)

// The renderer is checked on Mesosphere's own packages before it is
// trusted with ours: Marathon-LB's template uses most of what Cosmos
// offers (sections on booleans and strings, inverted sections, a list of
// objects, resource.json, numbers) and its rendering is known from its
// README and from the Marathon-LB apps in the wild.

var mlbPackage = upstreamPackages[0]

func renderMLB(t *testing.T, options string) map[string]any {
	t.Helper()
	var opts map[string]any
	if options != "" {
		v, err := decodeJSON([]byte(options))
		if err != nil {
			t.Fatal(err)
		}
		opts = v.(map[string]any)
	}
	_, app, err := mlbPackage.render(opts)
	if err != nil {
		t.Fatal(err)
	}
	// Marathon-LB's template sets "maintainer", which Marathon's published
	// schemas do not list (Marathon itself ignores fields it does not
	// know): the rest must be valid.
	valid := maps.Clone(app)
	delete(valid, "maintainer")
	validateApp(t, "marathon-lb rendered with "+options, valid)
	return app
}

func TestRendererOnMarathonLB(t *testing.T) {
	mlbPorts := func(first ...int) []any {
		var ports []any
		for _, p := range first {
			ports = append(ports, jsonInt(p))
		}
		for p := 10000; p <= 10100; p++ {
			ports = append(ports, jsonInt(p))
		}
		return ports
	}
	tests := []struct {
		name, options string
		want          map[string]any // top-level fields, compared as JSON
		check         func(t *testing.T, app map[string]any)
	}{
		{
			name: "defaults",
			want: map[string]any{
				"id":                    "marathon-lb",
				"instances":             jsonInt(1),
				"cpus":                  jsonInt(2),
				"mem":                   jsonInt(1024),
				"acceptedResourceRoles": []any{"slave_public"},
				"requirePorts":          true,
				"ports":                 mlbPorts(80, 443, 9090, 9091),
				"args": []any{"sse", "-m", "http://marathon.mesos:8080", "--health-check", "--haproxy-map",
					"--max-reload-retries", "10", "--reload-interval", "10", "--group", "external"},
				"env": map[string]any{
					"HAPROXY_GLOBAL_DEFAULT_OPTIONS": "redispatch,http-server-close,dontlognull",
					// ssl-cert has no default: Cosmos leaves it out of the
					// options and the template prints nothing.
					"HAPROXY_SSL_CERT": "",
					"HAPROXY_SYSCTL_PARAMS": "net.ipv4.tcp_tw_reuse=1 net.ipv4.tcp_fin_timeout=30 net.ipv4.tcp_max_syn_backlog=10240 " +
						"net.ipv4.tcp_max_tw_buckets=400000 net.ipv4.tcp_max_orphans=60000 net.core.somaxconn=10000",
				},
				"upgradeStrategy": map[string]any{"minimumHealthCapacity": jsonNum("0.5"), "maximumOverCapacity": jsonNum("0.2")},
			},
			check: func(t *testing.T, app map[string]any) {
				docker := app["container"].(map[string]any)["docker"].(map[string]any)
				if docker["image"] != "mesosphere/marathon-lb:v1.15.0" || docker["network"] != "HOST" || docker["privileged"] != true {
					t.Errorf("container.docker = %v", docker)
				}
				if len(docker["parameters"].([]any)) != 2 {
					t.Errorf("parameters = %v, want only the package's two labels", docker["parameters"])
				}
				hc := app["healthChecks"].([]any)[0].(map[string]any)
				if hc["portIndex"] != jsonInt(2) || hc["protocol"] != "MESOS_HTTP" {
					t.Errorf("health check %v: want MESOS_HTTP on port index 2 (9090)", hc)
				}
				for _, absent := range []string{"secrets", "uris"} {
					if _, ok := app[absent]; ok {
						t.Errorf("%s rendered from an empty option", absent)
					}
				}
			},
		},
		{
			// The "internal" load balancer of Marathon-LB's README.
			name:    "internal",
			options: `{"marathon-lb": {"name": "marathon-lb-internal", "haproxy-group": "internal", "bind-http-https": false, "role": ""}}`,
			want: map[string]any{
				"id":    "marathon-lb-internal",
				"ports": mlbPorts(9090, 9091),
				"args": []any{"sse", "-m", "http://marathon.mesos:8080", "--health-check", "--dont-bind-http-https", "--haproxy-map",
					"--max-reload-retries", "10", "--reload-interval", "10", "--group", "internal"},
			},
			check: func(t *testing.T, app map[string]any) {
				if _, ok := app["acceptedResourceRoles"]; ok {
					t.Error("an empty role still renders acceptedResourceRoles")
				}
				if hc := app["healthChecks"].([]any)[0].(map[string]any); hc["portIndex"] != jsonInt(0) {
					t.Errorf("health check on port index %v, want 0 (9090)", hc["portIndex"])
				}
			},
		},
		{
			name: "every switch, a list of objects, strings that need escaping, a fraction",
			options: `{"marathon-lb": {"auto-assign-service-ports": true, "strict-mode": true, "haproxy-map": false,
			  "secret_name": "mlb/secret", "template-url": "https://example.com/t.tgz", "container-syslogd": true, "cpus": 1.5,
			  "parameters": [{"key": "ulimit", "value": "nofile=65536"}, {"key": "label", "value": "a\"b"}],
			  "ssl-cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}}`,
			want: map[string]any{
				"cpus": jsonNum("1.5"),
				"args": []any{"sse", "-m", "http://marathon.mesos:8080", "--health-check",
					"--min-serv-port-ip-per-task", "10101", "--max-serv-port-ip-per-task", "10150", "--strict-mode",
					"--max-reload-retries", "10", "--reload-interval", "10", "--group", "external"},
				"uris":    []any{"https://example.com/t.tgz"},
				"secrets": map[string]any{"serviceCredential": map[string]any{"source": "mlb/secret"}},
			},
			check: func(t *testing.T, app map[string]any) {
				env := app["env"].(map[string]any)
				if env["HAPROXY_SSL_CERT"] != "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" {
					t.Errorf("HAPROXY_SSL_CERT = %q", env["HAPROXY_SSL_CERT"])
				}
				if !reflect.DeepEqual(env["DCOS_SERVICE_ACCOUNT_CREDENTIAL"], map[string]any{"secret": "serviceCredential"}) {
					t.Errorf("DCOS_SERVICE_ACCOUNT_CREDENTIAL = %v", env["DCOS_SERVICE_ACCOUNT_CREDENTIAL"])
				}
				if env["HAPROXY_SYSLOGD"] != "true" {
					t.Errorf("HAPROXY_SYSLOGD = %v", env["HAPROXY_SYSLOGD"])
				}
				params := app["container"].(map[string]any)["docker"].(map[string]any)["parameters"].([]any)
				want := []any{
					map[string]any{"key": "ulimit", "value": "nofile=65536"},
					map[string]any{"key": "label", "value": "a\"b"},
					map[string]any{"key": "label", "value": "created_by=marathon"},
					map[string]any{"key": "label", "value": "dcos_pkg_name=marathon-lb"},
				}
				if !reflect.DeepEqual(params, want) {
					t.Errorf("parameters = %v\nwant %v", params, want)
				}
				ports := app["ports"].([]any)
				if len(ports) != 4+101+50 || ports[len(ports)-1] != jsonInt(10150) {
					t.Errorf("ports: %d of them, last %v; want 155, last 10150", len(ports), ports[len(ports)-1])
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := renderMLB(t, tt.options)
			for k, want := range tt.want {
				if !reflect.DeepEqual(app[k], want) {
					t.Errorf("%s = %v\nwant %v", k, app[k], want)
				}
			}
			if tt.check != nil {
				tt.check(t, app)
			}
		})
	}
}

// Cosmos refuses options that do not match config.json, and Mesosphere's
// packages show the two common ways: a required field without a default
// (vamp's elasticsearch-url) and a value of the wrong type.
func TestRendererRefusesWhatCosmosRefuses(t *testing.T) {
	tests := []struct {
		pkg     pkgDir
		options string
		want    string
	}{
		{upstreamPackages[1], "", "at /service: missing property 'elasticsearch-url'"},
		{mlbPackage, `{"marathon-lb": {"instances": "two"}}`, "at /marathon-lb/instances: got string, want integer"},
		{mlbPackage, `{"marathon-lb": {"cpus": 0.5}}`, "at /marathon-lb/cpus: minimum: got 0.5, want 1"},
	}
	for _, tt := range tests {
		var opts map[string]any
		if tt.options != "" {
			v, err := decodeJSON([]byte(tt.options))
			if err != nil {
				t.Fatal(err)
			}
			opts = v.(map[string]any)
		}
		_, _, err := tt.pkg.render(opts)
		var mismatch *schemaMismatchError
		if !errors.As(err, &mismatch) || mismatch.problems != tt.want {
			t.Errorf("%s with %s: got %v, want the schema error %q", tt.pkg, tt.options, err, tt.want)
		}
	}
	// vamp renders once the required option is there.
	_, app, err := upstreamPackages[1].render(map[string]any{"service": map[string]any{"elasticsearch-url": "http://es.marathon.mesos:9200"}})
	if err != nil {
		t.Fatal(err)
	}
	validateApp(t, "vamp", app)
	if env := app["env"].(map[string]any); env["VAMP_WAIT_FOR"] != "http://es.marathon.mesos:9200/.kibana" {
		t.Errorf("VAMP_WAIT_FOR = %v", env["VAMP_WAIT_FOR"])
	}
	// time-server has no required fields: its defaults render.
	_, app, err = upstreamPackages[2].render(nil)
	if err != nil {
		t.Fatal(err)
	}
	validateApp(t, "time-server", app)
	if app["id"] != "time-server" || app["cpus"] != jsonNum("0.1") {
		t.Errorf("time-server: id %v, cpus %v", app["id"], app["cpus"])
	}
}

// A package without config.json takes no options (Cosmos: OptionsNotAllowed).
func TestOptionsNotAllowedWithoutConfig(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"package.json":           `{"packagingVersion": "4.0", "name": "x", "version": "1", "maintainer": "m", "description": "d", "tags": []}`,
		"marathon.json.mustache": `{"id": "/x", "cmd": "sleep 1"}`,
	} {
		writeFile(t, dir+"/"+name, content)
	}
	if _, _, err := pkgDir(dir).render(map[string]any{"a": "b"}); !errors.Is(err, errOptionsNotAllowed) {
		t.Errorf("got %v, want %v", err, errOptionsNotAllowed)
	}
	if _, app, err := pkgDir(dir).render(nil); err != nil || app["id"] != "/x" {
		t.Errorf("without options: %v, %v", app, err)
	}
}

func TestRenderedTemplateMustBeAJSONObject(t *testing.T) {
	for tmpl, want := range map[string]string{
		`[{"id": "/x"}]`:                            "not a JSON object",
		`{"id": "/x",}`:                             "not JSON",
		`{"id": "/x", "id": "/y"}`:                  `duplicate key "id"`,
		`{"id": "/x", "labels": {"a": 1}}`:          "label a is not a string",
		`{"id": "/x", "env": {"A": "1", "A": "2"}}`: `duplicate key "A" in /env`,
	} {
		dir := t.TempDir()
		writeFile(t, dir+"/package.json", `{}`)
		writeFile(t, dir+"/marathon.json.mustache", tmpl)
		if _, _, err := pkgDir(dir).render(nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error with %q", tmpl, err, want)
		}
	}
}
