package marathon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/marathon/marathontest"
	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/plugins/sdk"
)

func start(t *testing.T, fm *fakemarathon.Server) *Plugin {
	t.Helper()
	return marathontest.Start(t, New(), fm, `"resync": "1h"`)
}

func watch(t *testing.T, p *Plugin, ref string) *fakemarathon.Watch {
	t.Helper()
	return marathontest.Watch(t, p, "marathon", ref)
}

func endpoints(s sdk.Snapshot) string {
	var out []string
	for _, e := range s.Endpoints {
		h := "healthy"
		if !e.Healthy {
			h = "unhealthy"
		}
		out = append(out, e.Address+" "+h)
	}
	return strings.Join(out, ", ")
}

// The recorded apps, 1.4 and 1.5 shapes, resolve to their tasks' host ports.
func TestRecordedApps(t *testing.T) {
	for _, tc := range []struct{ file, ref, want, reason string }{
		{"marathon-lb/tests/zdd_apps.json", "/nginx-green", "10.0.6.25:16916 healthy, 10.0.6.25:23336 healthy, 10.0.6.25:31184 healthy", ""},
		{"marathon-lb/tests/zdd_apps.json", "/nginx-blue:0", "10.0.1.147:25724 healthy", ""},
		{"marathon-lb/tests/zdd_app_blue_marathon1.5.json", "nginx-green", "10.0.6.25:16916 healthy, 10.0.6.25:23336 healthy, 10.0.6.25:31184 healthy", ""},
		{"marathon-lb/tests/marathon15_apps.json", "/pywebserver", "10.0.2.148:1565 healthy", ""},
		{"marathon-lb/tests/marathon15_apps.json", "/pywebserver:1", "", "app /pywebserver has no port index 1 (it has 1 port)"},
		{"marathon-lb/tests/marathon15_apps.json", "/nope", "", "app /nope not found in Marathon"},
		{"marathon/v1.6.590/docs/docs/rest-api/public/api/v2/examples/app_list.json", "/myapp", "", "deployment in flight; 0 of 3 tasks healthy"},
	} {
		t.Run(tc.file+tc.ref, func(t *testing.T) {
			fm := fakemarathon.New(t, fakemarathon.Options{Apps: [][]byte{fakemarathon.Fixture(tc.file)}})
			s := watch(t, start(t, fm), tc.ref).Await("a snapshot", func(sdk.Snapshot) bool { return true })
			if got := endpoints(s); got != tc.want || s.Reason != tc.reason || s.Ready != (tc.reason == "") {
				t.Fatalf("got %q ready=%v reason %q", got, s.Ready, s.Reason)
			}
		})
	}
}

func TestNetworkModes(t *testing.T) {
	for _, v := range []fakemarathon.Version{fakemarathon.V14, fakemarathon.V15} {
		t.Run(fmt.Sprint("version", v), func(t *testing.T) {
			fm := fakemarathon.New(t, fakemarathon.Options{Version: v})
			fm.Deploy(fakemarathon.AppSpec{ID: "/ippc", Instances: 1, Network: fakemarathon.Container,
				Ports: []fakemarathon.PortSpec{{ContainerPort: 8080}, {ContainerPort: 9090}}})
			fm.Deploy(fakemarathon.AppSpec{ID: "/host", Instances: 1, Network: fakemarathon.Host,
				Ports: []fakemarathon.PortSpec{{ServicePort: 10010}, {ServicePort: 10011}}})
			p := start(t, fm)
			s := watch(t, p, "/ippc:1").Await("ippc", func(sdk.Snapshot) bool { return true })
			if !strings.HasPrefix(s.Endpoints[0].Address, "127.0.1.") || !strings.HasSuffix(s.Endpoints[0].Address, ":9090") {
				t.Fatalf("IP per task: %+v", s)
			}
			s = watch(t, p, "/host:1").Await("host", func(sdk.Snapshot) bool { return true })
			if !strings.HasPrefix(s.Endpoints[0].Address, "127.0.0.1:31") || s.Endpoints[0].Labels["task"] == "" {
				t.Fatalf("host: %+v", s)
			}
		})
	}
}

func TestTasksComeAndGo(t *testing.T) {
	fm := fakemarathon.New(t, fakemarathon.Options{})
	p := start(t, fm)
	w := watch(t, p, "/web")
	w.Await("the app missing", func(s sdk.Snapshot) bool { return s.Reason == "app /web not found in Marathon" })
	testnet.Eventually(t, 10*time.Second, "the event stream", func() bool { return fm.Streams() == 1 })

	fm.Deploy(fakemarathon.AppSpec{ID: "/web", Instances: 2, HealthCheck: true, Ports: []fakemarathon.PortSpec{{ContainerPort: 80}}})
	s := w.Await("two unhealthy tasks", func(s sdk.Snapshot) bool { return len(s.Endpoints) == 2 })
	if s.Ready || s.Endpoints[0].Healthy || s.Endpoints[1].Healthy || s.Reason != "deployment in flight; 0 of 2 tasks healthy" {
		t.Fatalf("deploying: %+v", s)
	}
	fm.MarkHealthy("/web")
	w.Await("ready", func(s sdk.Snapshot) bool {
		return s.Ready && endpoints(s) != "" && !strings.Contains(endpoints(s), "unhealthy")
	})

	// TASK_KILLING takes the task out at once.
	task := fm.Tasks("/web")[0]
	fm.KillTask(task)
	s = w.Await("the killing task gone", func(s sdk.Snapshot) bool { return len(s.Endpoints) == 1 })
	if s.Endpoints[0].Labels["task"] == task || s.Ready || s.Reason != "1 of 2 tasks healthy" {
		t.Fatalf("after the kill: %+v", s)
	}
	fm.TaskKilled(task)

	// An outage keeps the endpoint, with the error.
	fm.Stop()
	s = w.Await("the outage", func(s sdk.Snapshot) bool { return s.Error != "" })
	if len(s.Endpoints) != 1 {
		t.Fatalf("outage: %+v", s)
	}
	fm.Start()
	w.Await("back", func(s sdk.Snapshot) bool { return s.Error == "" && len(s.Endpoints) == 1 })
}
