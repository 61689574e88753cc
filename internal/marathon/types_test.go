package marathon

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakemarathon"
)

// summary is an app in one line: id, mode, ports (container/host/service)
// and tasks (state, health, address of port 0).
func summary(a *App) string {
	var ports []string
	for _, p := range a.Ports {
		ports = append(ports, fmt.Sprintf("%d/%d/%d", p.ContainerPort, p.HostPort, p.ServicePort))
	}
	var tasks []string
	for _, t := range a.Tasks {
		h, p, _ := a.Address(t, 0)
		tasks = append(tasks, fmt.Sprintf("%s:%v@%s:%d", strings.TrimPrefix(t.State, "TASK_"), a.Healthy(t), h, p))
	}
	return fmt.Sprintf("%s %s ports=[%s] tasks=[%s] deployments=%d", a.ID, a.Mode, strings.Join(ports, " "), strings.Join(tasks, " "), len(a.Deployments))
}

// Every recorded app, in the 1.4 and the 1.5 shapes, reads to the same
// model a router needs.
func TestDecodeRecordedApps(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"marathon-lb/tests/zdd_apps.json", []string{
			"/nginx-green container/bridge ports=[8080/0/10000] tasks=[RUNNING:true@10.0.6.25:16916 RUNNING:true@10.0.6.25:31184 RUNNING:true@10.0.6.25:23336] deployments=0",
			"/nginx-blue container/bridge ports=[8080/0/10001] tasks=[RUNNING:true@10.0.1.147:25724] deployments=0",
		}},
		{"marathon-lb/tests/zdd_app_blue.json", []string{
			"/nginx-green container/bridge ports=[8080/0/10000] tasks=[RUNNING:true@10.0.6.25:16916 RUNNING:true@10.0.6.25:31184 RUNNING:true@10.0.6.25:23336] deployments=0",
		}},
		{"marathon-lb/tests/zdd_app_blue_marathon1.5.json", []string{
			"/nginx-green container/bridge ports=[8080/0/10000] tasks=[RUNNING:true@10.0.6.25:16916 RUNNING:true@10.0.6.25:31184 RUNNING:true@10.0.6.25:23336] deployments=0",
		}},
		{"marathon-lb/tests/marathon15_apps.json", []string{
			"/pywebserver container/bridge ports=[80/0/10101] tasks=[RUNNING:true@10.0.2.148:1565] deployments=0",
		}},
		{"marathon/v1.4.12/docs/docs/rest-api/public/api/v2/examples/app_list.json", []string{
			"/myapp host ports=[0/0/10013 0/0/10015] tasks=[] deployments=1",
		}},
		{"marathon/v1.6.590/docs/docs/rest-api/public/api/v2/examples/app_list.json", []string{
			"/myapp host ports=[0/0/10013 0/0/10015] tasks=[] deployments=1",
		}},
		// An app definition: BRIDGE beats ipAddress, as in marathon-lb.
		{"marathon/v1.6.590/docs/docs/rest-api/public/api/v2/examples/app.json", []string{
			"/foo container/bridge ports=[80/0/10019] tasks=[] deployments=0",
		}},
		{"marathon-lb/tests/1-nginx.json", []string{"/nginx container/bridge ports=[8080/0/10000] tasks=[] deployments=0"}},
		{"marathon-lb/tests/1-nginx-marathon1.5.json", []string{"/nginx container/bridge ports=[8080/0/10000] tasks=[] deployments=0"}},
		{"marathon-lb/ci/backends/docker_ippc.json", []string{"/nginx-docker-ippc container ports=[80/0/0] tasks=[] deployments=0"}},
		{"marathon-lb/ci/backends/ucr_ippc.json", []string{"/nginx-ucr-ippc container ports=[] tasks=[] deployments=0"}},
		{"marathon-lb/ci/backends/ucr_host.json", []string{"/nginx-ucr-host host ports=[0/0/10003] tasks=[] deployments=0"}},
		{"marathon-lb/ci/backends/docker_host.json", []string{"/nginx-docker-host host ports=[0/0/0] tasks=[] deployments=0"}},
		{"marathon-lb/ci/backends_1.9/docker_ippc.json", []string{"/nginx-docker-ippc container/bridge ports=[80/0/0] tasks=[] deployments=0"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body := fakemarathon.Fixture(tc.file)
			apps, err := DecodeApps(body)
			if err != nil || len(apps) == 0 {
				a, err2 := DecodeApp(body)
				if err2 != nil {
					t.Fatal(err, err2)
				}
				apps = []*App{a}
			}
			var got []string
			for _, a := range apps {
				got = append(got, summary(a))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestDecodeTasksAndDeployments(t *testing.T) {
	for _, v := range []string{"v1.4.12", "v1.6.590"} {
		tasks, err := DecodeTasks(fakemarathon.Fixture("marathon/" + v + "/docs/docs/rest-api/public/api/v2/examples/tasks.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(tasks) != 2 || tasks[0].State != TaskRunning || tasks[0].ServicePorts[0] != 10019 || tasks[1].AppID != "/tools/docker/registry" {
			t.Errorf("%s tasks: %+v", v, tasks)
		}
		ds, err := DecodeDeployments(fakemarathon.Fixture("marathon/" + v + "/docs/docs/rest-api/public/api/v2/examples/deployments.json"))
		if err != nil || len(ds) != 1 || !slices.Equal(ds[0].AffectedApps, []string{"/foo"}) {
			t.Errorf("%s deployments: %+v %v", v, ds, err)
		}
	}
	for _, tc := range []struct{ raw, want string }{
		{`"TASK_RUNNING"`, "TASK_RUNNING"}, {`{"name":"TASK_KILLING"}`, "TASK_KILLING"}, {`null`, ""}, {``, ""},
	} {
		if got := taskState([]byte(tc.raw)); got != tc.want {
			t.Errorf("state %s: %q", tc.raw, got)
		}
	}
}

func TestReadiness(t *testing.T) {
	hc := []HealthCheck{{Protocol: "MESOS_HTTP"}}
	run := func(health ...bool) Task { return Task{State: TaskRunning, Health: health} }
	for _, tc := range []struct {
		name   string
		app    App
		deploy bool
		ready  bool
		reason string
	}{
		{"all healthy", App{Instances: 2, HealthChecks: hc, Tasks: []Task{run(true), run(true)}}, false, true, ""},
		{"one unhealthy", App{Instances: 2, HealthChecks: hc, Tasks: []Task{run(true), run(false)}}, false, false, "1 of 2 tasks healthy"},
		{"no result yet", App{Instances: 1, HealthChecks: hc, Tasks: []Task{run()}}, false, false, "0 of 1 task healthy"},
		{"no health checks", App{Instances: 1, Tasks: []Task{run()}}, false, true, ""},
		{"staging", App{Instances: 1, Tasks: []Task{{State: "TASK_STAGING"}}}, false, false, "0 of 1 task healthy"},
		{"killing", App{Instances: 1, Tasks: []Task{{State: TaskKilling}}}, false, false, "0 of 1 task healthy"},
		{"extra task being killed", App{Instances: 1, Tasks: []Task{run(), {State: TaskKilling}}}, false, true, ""},
		{"deployment", App{Instances: 1, Tasks: []Task{run()}}, true, false, "deployment in flight"},
		{"deployment and unhealthy", App{Instances: 2, HealthChecks: hc, Tasks: []Task{run(false)}}, true, false, "deployment in flight; 0 of 2 tasks healthy"},
		{"scaled to zero", App{}, false, false, "app is scaled to 0 instances"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.app
			a.ID = "/a"
			m := NewModel([]*App{&a}, nil, "")
			if tc.deploy {
				m.Deployments = []Deployment{{ID: "d", AffectedApps: []string{"/a"}}}
			}
			ready, reason := m.Readiness(&a)
			if ready != tc.ready || reason != tc.reason {
				t.Errorf("got %v %q, want %v %q", ready, reason, tc.ready, tc.reason)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{``, ""},
		{`{}`, ""},
		{`{"urls": ["http://m1:8080", "https://master/marathon/"], "resync": "30s", "marathon_lb_group": "internal"}`, ""},
		{`{"url": "http://m1"}`, `unknown field "url"`},
		{`{"urls": ["m1:8080"]}`, `want http(s)://host:port[/prefix]`},
		{`{"resync": "often"}`, `want a duration such as "5m"`},
		{`{"resync": "1ms"}`, `resync 1ms is too short`},
		{`{"member_check_interval": "1s", "member_timeout": "500ms", "request_timeout": "5s", "reconnect_max": "1s", "stream_idle_timeout": "1m"}`, ""},
		{`{"member_timeout": "1ms"}`, `member_timeout 1ms is too short`},
		{`{"reconnect_max": "0.001s"}`, `reconnect_max 1ms is too short`},
		{`{"stream_idle_timeout": "100ms"}`, `stream_idle_timeout 100ms is too short`},
		{`{"member_check_interval": "soon"}`, `want a duration such as "5m"`},
		{`{"acs_token": "t", "service_account_secret": "{}"}`, `not both`},
		{`{"service_account_secret": "{\"uid\": \"u\"}"}`, `no login_endpoint`},
		{`{"service_account_secret": "{\"uid\": \"u\", \"login_endpoint\": \"http://x\", \"private_key\": \"nope\"}"}`, `private_key`},
	} {
		c, err := ParseConfig([]byte(tc.in))
		if tc.err == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.in, err)
			} else if len(c.URLs) == 0 || c.Resync == 0 || c.MarathonLBGroup == "" {
				t.Errorf("%s: defaults missing: %+v", tc.in, c)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
		}
	}
	c, _ := ParseConfig(nil)
	if c.URLs[0] != DefaultURL || c.MarathonLBGroup != "external" || c.Resync != Duration(DefaultResync) ||
		c.MemberCheck != Duration(2*time.Second) || c.MemberTimeout != Duration(2*time.Second) ||
		c.RequestTimeout != Duration(15*time.Second) || c.ReconnectMax != Duration(2*time.Second) || c.StreamIdle != 0 {
		t.Errorf("defaults: %+v", c)
	}
}

// IP-per-task networking: a task of a recorded IP-per-task app (its
// definition from marathon-lb's CI, in the 1.4 shape with ipAddress and
// the 1.9 one with networks) is reached at the IP Marathon gives it in
// ipAddresses and the container port, where a bridge app's same task is
// reached at its agent and host port. The task is a recorded one
// (zdd_apps.json's first /nginx-green task), attached in test code: no
// recorded IP-per-task app carries tasks.
func TestIPPerTaskAddressFromIPAddresses(t *testing.T) {
	var zdd struct {
		Apps []struct {
			Tasks []json.RawMessage `json:"tasks"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(fakemarathon.Fixture("marathon-lb/tests/zdd_apps.json"), &zdd); err != nil {
		t.Fatal(err)
	}
	task := zdd.Apps[0].Tasks[0] // host 10.0.6.25, ports [16916], ipAddresses [172.17.1.72]
	for _, tc := range []struct {
		file, mode, want string
	}{
		{"marathon-lb/ci/backends/docker_ippc.json", ModeContainer, "172.17.1.72:80"},
		{"marathon-lb/ci/backends/docker_bridge.json", ModeBridge, "10.0.6.25:16916"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(fakemarathon.Fixture(tc.file), &obj); err != nil {
				t.Fatal(err)
			}
			obj["tasks"] = json.RawMessage("[" + string(task) + "]")
			body, _ := json.Marshal(obj)
			a, err := DecodeApp(body)
			if err != nil {
				t.Fatal(err)
			}
			if a.Mode != tc.mode || len(a.Tasks) != 1 {
				t.Fatalf("mode %s, %d tasks; want %s and 1", a.Mode, len(a.Tasks), tc.mode)
			}
			h, p, ok := a.Address(a.Tasks[0], 0)
			if got := fmt.Sprintf("%s:%d", h, p); !ok || got != tc.want {
				t.Errorf("address %s (ok %v), want %s", got, ok, tc.want)
			}
		})
	}
}
