package minuteman

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/marathon"
	"github.com/turnout/turnout/internal/marathon/marathontest"
	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/plugins/sdk"
)

// Every naming example of research/dcos-ecosystem.md §4.2, and
// mesos_state's own unit tests of label/1.
func TestVIPNames(t *testing.T) {
	for _, tc := range []struct{ label, framework, want string }{
		{"/my-service:5555", "marathon", "my-service.marathon.l4lb.thisdcos.directory:5555"},
		{"myservice:6666", "marathon", "myservice.marathon.l4lb.thisdcos.directory:6666"},
		{"/acme:10000", "marathon", "acme.marathon.l4lb.thisdcos.directory:10000"},
		{"/mygroup/my-service:80", "marathon", "mygroupmy-service.marathon.l4lb.thisdcos.directory:80"},
		{"/My_App:80", "marathon", "my-app.marathon.l4lb.thisdcos.directory:80"},
		{"/foo.bar:80", "marathon", "foo.bar.marathon.l4lb.thisdcos.directory:80"},
		{"/foo:80", "bar", "foo.bar.l4lb.thisdcos.directory:80"},
		{"/web:80", "marathon-user", "web.marathon-user.l4lb.thisdcos.directory:80"},
		{"10.20.0.100:8080", "marathon", "10.20.0.100:8080"},
		{"/simple-service-1.0.0:3000", "marathon", "simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000"},
		// The slash is dropped without a separator: these two collide.
		{"/a/bc:80", "marathon", "abc.marathon.l4lb.thisdcos.directory:80"},
		{"/ab/c:80", "marathon", "abc.marathon.l4lb.thisdcos.directory:80"},
	} {
		v, ok := ParseVIP(tc.label)
		if !ok {
			t.Errorf("%s: not a VIP", tc.label)
			continue
		}
		if got := v.Address(tc.framework); got != tc.want {
			t.Errorf("%s (%s): %s, want %s", tc.label, tc.framework, got, tc.want)
		}
	}
	// mesos_state.erl remap_test.
	for in, want := range map[string]string{
		"fd%gsf---gs7-f$gs--d7fddg-123": "fdgsf---gs7-fgs--d7fddg-123",
		"4abc123":                       "4abc123",
		"89fdgsf---gs7-fgs--d7fddg-123": "89fdgsf---gs7-fgs--d7fddg-123",
		"##fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-":      "fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789",
		"fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123":   "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
		"89fdgsf---gs7-fgs--d7fddg---123":                                        "89fdgsf---gs7-fgs--d7fddg---123",
		"%%fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789---123": "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
		"-4abc123": "4abc123",
		"$$fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-123": "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891",
		"89fdgsf---gs7-fgs--d7fddg-": "89fdgsf---gs7-fgs--d7fddg",
		"0-0":                        "0-0",
	} {
		if got := Label(in); got != want {
			t.Errorf("label(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"nocolon", "/x:", "/x:0", "/x:http", ":80", "/x:70000"} {
		if _, ok := ParseVIP(bad); ok {
			t.Errorf("%q read as a VIP", bad)
		}
	}
}

// The VIP labels of dcos-net's recorded Mesos state (vip-labels.json): port
// 0 carries VIP_0 and VIP_1, port 2 carries VIP_2.
func TestVIPLabelsOfDCOSNetsRecording(t *testing.T) {
	var state struct {
		GetState struct {
			GetTasks struct {
				LaunchedTasks []struct {
					Discovery struct {
						Ports struct {
							Ports []struct {
								Number int
								Labels struct {
									Labels []struct{ Key, Value string }
								}
							}
						}
					}
				} `json:"launched_tasks"`
			} `json:"get_tasks"`
		} `json:"get_state"`
	}
	if err := json.Unmarshal(fakemarathon.Fixture("dcos-net/apps/dcos_net/test/vip-labels.json"), &state); err != nil {
		t.Fatal(err)
	}
	a := &marathon.App{ID: "/app"}
	for _, p := range state.GetState.GetTasks.LaunchedTasks[0].Discovery.Ports.Ports {
		labels := map[string]string{}
		for _, l := range p.Labels.Labels {
			labels[l.Key] = l.Value
		}
		a.Ports = append(a.Ports, marathon.Port{ContainerPort: p.Number, Labels: labels})
	}
	var got []string
	for _, v := range VIPs(a) {
		got = append(got, fmt.Sprintf("%d %s %s", v.PortIndex, v.Key, v.Address("marathon")))
	}
	want := "0 VIP_0 abc.marathon.l4lb.thisdcos.directory:80|0 VIP_1 cbd.marathon.l4lb.thisdcos.directory:80|2 VIP_2 xyz.marathon.l4lb.thisdcos.directory:443"
	if strings.Join(got, "|") != want {
		t.Fatalf("got %v", got)
	}
}

func TestRefs(t *testing.T) {
	for _, ref := range []string{"/app", "/app:0", "", ":80", "/app:http", "/app:1:2"} {
		if _, err := target(marathon.Config{}, ref); err == nil || !strings.HasPrefix(err.Error(), "minuteman: ") {
			t.Errorf("%q: %v", ref, err)
		}
	}
	p := New()
	defer p.Close()
	if _, err := p.Watch(context.Background(), sdk.Target{Scheme: "marathon", Ref: "/app:80"}); err == nil {
		t.Error("another scheme was watched")
	}
	info, _ := p.Info(context.Background())
	if info.Name != "minuteman" || info.Kind != sdk.KindBackend || info.Version != "0.1.0" || info.Schemes[0] != "minuteman" {
		t.Errorf("info %+v", info)
	}
}

func simpleService(version string) fakemarathon.AppSpec {
	id := "/simple-service-" + version
	return fakemarathon.AppSpec{ID: id, Instances: 2, HealthCheck: true,
		Ports: []fakemarathon.PortSpec{{ContainerPort: 3000, Name: "http", Labels: map[string]string{"VIP_0": id + ":3000"}}}}
}

func start(t *testing.T, fm *fakemarathon.Server, resync string) *Plugin {
	t.Helper()
	return marathontest.Start(t, New(), fm, `"resync": "`+resync+`"`)
}

func watch(t *testing.T, p *Plugin, ref string) *fakemarathon.Watch {
	t.Helper()
	return marathontest.Watch(t, p, "minuteman", ref)
}

// The seed's scenario: two versions of simple-service, each with its VIP.
func TestSeedScenario(t *testing.T) {
	for _, v := range []fakemarathon.Version{fakemarathon.V14, fakemarathon.V15} {
		t.Run(fmt.Sprint("version", v), func(t *testing.T) {
			fm := fakemarathon.New(t, fakemarathon.Options{Version: v})
			fm.Deploy(simpleService("1.0.0"))
			fm.MarkHealthy("/simple-service-1.0.0")
			// A long resync: readiness must follow the events.
			p := start(t, fm, "1h")

			old := watch(t, p, "/simple-service-1.0.0:3000")
			s := old.Await("1.0.0 ready", func(s sdk.Snapshot) bool { return s.Ready })
			if len(s.Endpoints) != 1 || s.Endpoints[0].Address != "simple-service-1.0.0.marathon.l4lb.thisdcos.directory:3000" || !s.Endpoints[0].Healthy || s.Error != "" {
				t.Fatalf("1.0.0: %+v", s)
			}

			// 1.1.0 deploys with unhealthy tasks: not ready, and why.
			testnet.Eventually(t, 10*time.Second, "the event stream", func() bool { return fm.Streams() == 1 })
			fm.Deploy(simpleService("1.1.0"))
			canary := watch(t, p, "/simple-service-1.1.0:3000")
			s = canary.Await("1.1.0 deploying", func(s sdk.Snapshot) bool { return len(s.Endpoints) == 1 })
			if s.Ready || s.Reason != "deployment in flight; 0 of 2 tasks healthy" ||
				s.Endpoints[0].Address != "simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000" || s.Endpoints[0].Healthy {
				t.Fatalf("1.1.0 deploying: %+v", s)
			}
			fm.MarkHealthy("/simple-service-1.1.0")
			s = canary.Await("1.1.0 ready", func(s sdk.Snapshot) bool { return s.Ready })
			if s.Reason != "" || !s.Endpoints[0].Healthy {
				t.Fatalf("1.1.0 ready: %+v", s)
			}

			// Marathon dies: the endpoints stay, with the error.
			fm.Stop()
			s = canary.Await("the outage", func(s sdk.Snapshot) bool { return s.Error != "" })
			if len(s.Endpoints) != 1 || s.Endpoints[0].Address != "simple-service-1.1.0.marathon.l4lb.thisdcos.directory:3000" || !s.Ready {
				t.Fatalf("during the outage: %+v", s)
			}
			if !strings.HasPrefix(s.Error, "marathon: no member answered: ") {
				t.Fatalf("error %q", s.Error)
			}
			// A task killed while Marathon was away shows after it is back.
			fm.KillTask(fm.Tasks("/simple-service-1.1.0")[0])
			if err := fm.Start(); err != nil {
				t.Fatal(err)
			}
			s = canary.Await("the catch-up", func(s sdk.Snapshot) bool { return s.Error == "" && !s.Ready })
			if s.Reason != "1 of 2 tasks healthy" || len(s.Endpoints) != 1 {
				t.Fatalf("after the outage: %+v", s)
			}
			old.Await("1.0.0 fresh again", func(s sdk.Snapshot) bool { return s.Error == "" && s.Ready })
		})
	}
}

func TestNotReadyReasons(t *testing.T) {
	fm := fakemarathon.New(t, fakemarathon.Options{})
	fm.Deploy(fakemarathon.AppSpec{ID: "/novip", Instances: 1, Ports: []fakemarathon.PortSpec{{ContainerPort: 80}}})
	fm.Deploy(fakemarathon.AppSpec{ID: "/other", Instances: 1, Ports: []fakemarathon.PortSpec{{ContainerPort: 80, Labels: map[string]string{"VIP_0": "/other:80"}}}})
	fm.Deploy(fakemarathon.AppSpec{ID: "/ipvip", Instances: 1, Network: fakemarathon.Host,
		Ports: []fakemarathon.PortSpec{{Labels: map[string]string{"vip": "10.20.0.100:8080"}}}})
	p := start(t, fm, "1h")
	for ref, want := range map[string]string{
		"/missing:80": "app /missing not found in Marathon",
		"/novip:80":   "app /novip has no VIP label",
		"/other:81":   "app /other has no VIP on port 81 (its VIPs: /other:80)",
	} {
		s := watch(t, p, ref).Await(ref, func(sdk.Snapshot) bool { return true })
		if s.Ready || s.Reason != want || len(s.Endpoints) != 0 {
			t.Errorf("%s: %+v, want reason %q", ref, s, want)
		}
	}
	s := watch(t, p, "/ipvip:8080").Await("the IP VIP", func(sdk.Snapshot) bool { return true })
	if !s.Ready || s.Endpoints[0].Address != "10.20.0.100:8080" {
		t.Errorf("IP VIP: %+v", s)
	}
}
