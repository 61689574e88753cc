package marathonlb

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/marathon"
	"github.com/turnout/turnout/internal/marathon/marathontest"
	"github.com/turnout/turnout/plugins/sdk"
)

// Every Marathon-LB fixture, read as Marathon-LB reads it: per service
// port, the port it binds (HAPROXY_{n}_PORT over the service port), its
// groups and virtual hosts.
func TestRecordedAppsAsMarathonLBSeesThem(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"marathon-lb/tests/zdd_apps.json", "/nginx-green 0:10000(label) groups=external vhosts= | /nginx-blue 0:10000(label) groups=external vhosts="},
		{"marathon-lb/tests/zdd_app_blue.json", "/nginx-green 0:10000(label) groups=external vhosts="},
		{"marathon-lb/tests/zdd_app_blue_marathon1.5.json", "/nginx-green 0:10000(label) groups=external vhosts="},
		{"marathon-lb/tests/marathon15_apps.json", "/pywebserver 0:10101 groups=external vhosts=myvhost.com"},
		{"marathon-lb/tests/1-nginx.json", "/nginx 0:10000 groups=external vhosts="},
		{"marathon-lb/tests/1-nginx-marathon1.5.json", "/nginx 0:10000 groups=external vhosts="},
		{"marathon-lb/ci/backends/docker_bridge.json", "/nginx-docker-bridge 0:10100(label) groups=external vhosts=nginx-docker-bridge.test enabled"},
		{"marathon-lb/ci/backends/docker_host.json", "/nginx-docker-host 0:10300(label) groups=external vhosts=nginx-docker-host.test enabled"},
		{"marathon-lb/ci/backends/docker_ippc.json", "/nginx-docker-ippc 0:10200(label) groups=external vhosts=nginx-docker-ippc.test enabled"},
		{"marathon-lb/ci/backends/ucr_bridge.json", "/nginx-ucr-bridge 0:10500(label) groups=external vhosts=nginx-ucr-bridge.test enabled"},
		{"marathon-lb/ci/backends/ucr_host.json", "/nginx-ucr-host 0:10400(label) groups=external vhosts=nginx-ucr-host.test enabled"},
		{"marathon-lb/ci/backends/ucr_ippc.json", "/nginx-ucr-ippc 0:10600(label) groups=external vhosts=nginx-ucr-ippc.test enabled"},
		{"marathon-lb/ci/backends_1.9/docker_bridge.json", "/nginx-docker-bridge 0:10100(label) groups=external vhosts=nginx-docker-bridge.test enabled"},
		{"marathon-lb/ci/backends_1.9/docker_host.json", "/nginx-docker-host 0:10300(label) groups=external vhosts=nginx-docker-host.test enabled"},
		{"marathon-lb/ci/backends_1.9/docker_ippc.json", "/nginx-docker-ippc 0:10200(label) groups=external vhosts=nginx-docker-ippc.test enabled"},
		{"marathon-lb/ci/backends_1.9/ucr_host.json", "/nginx-ucr-host 0:10400(label) groups=external vhosts=nginx-ucr-host.test enabled"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body := fakemarathon.Fixture(tc.file)
			apps, err := marathon.DecodeApps(body)
			if err != nil || len(apps) == 0 {
				a, err := marathon.DecodeApp(body)
				if err != nil {
					t.Fatal(err)
				}
				apps = []*marathon.App{a}
			}
			var got []string
			for _, a := range apps {
				for _, p := range a.LBPorts() {
					s := fmt.Sprintf("%s %d:%d", a.ID, p.Index, p.Port)
					if p.FromLabel {
						s += "(label)"
					}
					s += fmt.Sprintf(" groups=%s vhosts=%s", strings.Join(p.Groups, ","), strings.Join(p.VHosts, ","))
					if p.Enabled {
						s += " enabled"
					}
					got = append(got, s)
				}
			}
			if strings.Join(got, " | ") != tc.want {
				t.Errorf("got  %s\nwant %s", strings.Join(got, " | "), tc.want)
			}
		})
	}
}

func TestMarathonLBGroupsFromArgs(t *testing.T) {
	for _, tc := range []struct {
		spec fakemarathon.AppSpec
		want string
		isLB bool
	}{
		{fakemarathon.MarathonLBSpec("/marathon-lb", "external", true), "external bind=true", true},
		{fakemarathon.MarathonLBSpec("/marathon-lb-internal", "internal", false), "internal bind=false", true},
		{fakemarathon.AppSpec{ID: "/web", Args: []string{"serve", "--group", "x"}}, "", false},
	} {
		s := fakemarathon.New(t, fakemarathon.Options{})
		s.Deploy(tc.spec)
		a, err := marathon.DecodeApp(s.AppJSON(tc.spec.ID))
		if err != nil {
			t.Fatal(err)
		}
		lbs := marathon.NewModel([]*marathon.App{a}, nil, "").MarathonLBs()
		if len(lbs) == 1 != tc.isLB {
			t.Fatalf("%s: %d Marathon-LBs", tc.spec.ID, len(lbs))
		}
		if tc.isLB {
			if got := fmt.Sprintf("%s bind=%v", strings.Join(lbs[0].Groups, ","), lbs[0].BindHTTPHTTPS); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.spec.ID, got, tc.want)
			}
		}
	}
}

func start(t *testing.T, fm *fakemarathon.Server, group string) *Plugin {
	t.Helper()
	return marathontest.Start(t, New(), fm, `"resync": "1h", "marathon_lb_group": "`+group+`"`)
}

func snapshot(t *testing.T, p *Plugin, ref string) sdk.Snapshot {
	t.Helper()
	return marathontest.Watch(t, p, "marathon-lb", ref).Await(ref, func(sdk.Snapshot) bool { return true })
}

func describe(s sdk.Snapshot) string {
	var eps []string
	for _, e := range s.Endpoints {
		d := e.Address
		if e.Host != "" {
			d += " Host=" + e.Host
		}
		if !e.Healthy {
			d += " unhealthy"
		}
		eps = append(eps, d)
	}
	return fmt.Sprintf("[%s] ready=%v %s", strings.Join(eps, ", "), s.Ready, s.Reason)
}

func TestTargets(t *testing.T) {
	for _, v := range []fakemarathon.Version{fakemarathon.V14, fakemarathon.V15} {
		fm := fakemarathon.New(t, fakemarathon.Options{Version: v, Apps: [][]byte{
			fakemarathon.Fixture("marathon-lb/tests/zdd_apps.json"), fakemarathon.Fixture("marathon-lb/tests/marathon15_apps.json")}})
		fm.Deploy(fakemarathon.MarathonLBSpec("/marathon-lb", "external", true))
		fm.Deploy(fakemarathon.MarathonLBSpec("/marathon-lb-internal", "internal", false))
		fm.Deploy(fakemarathon.AppSpec{ID: "/inside", Instances: 1, Labels: map[string]string{"HAPROXY_GROUP": "internal", "HAPROXY_0_VHOST": "inside.example"},
			Ports: []fakemarathon.PortSpec{{ContainerPort: 80, ServicePort: 10050}}})
		fm.Deploy(fakemarathon.AppSpec{ID: "/nogroup", Instances: 1, Ports: []fakemarathon.PortSpec{{ContainerPort: 80, ServicePort: 10051}}})
		external, internal := start(t, fm, "external"), start(t, fm, "internal")

		for _, tc := range []struct {
			p         *Plugin
			ref, want string
		}{
			{external, "/nginx-green", "[127.0.0.1:10000 unhealthy] ready=false no healthy Marathon-LB instance"},
			{external, "/pywebserver", "[127.0.0.1:80 Host=myvhost.com unhealthy] ready=false no healthy Marathon-LB instance"},
			{external, "/inside", "[] ready=false app /inside port index 0 is in Marathon-LB group internal, not external"},
			{external, "/nogroup", "[] ready=false app /nogroup has no HAPROXY_GROUP or HAPROXY_0_GROUP label"},
			{external, "/nginx-green:1", "[] ready=false app /nginx-green has no port index 1"},
			{external, "/gone", "[] ready=false app /gone not found in Marathon"},
			// Not binding 80, the internal LB serves the vhost app at its
			// service port.
			{internal, "/inside", "[127.0.0.1:10050 unhealthy] ready=false no healthy Marathon-LB instance"},
		} {
			if got := describe(snapshot(t, tc.p, tc.ref)); got != tc.want {
				t.Errorf("version %d %s: %s\nwant %s", v, tc.ref, got, tc.want)
			}
		}

		fm.MarkHealthy("/marathon-lb")
		ctx, cancel := context.WithCancel(context.Background())
		ch, _ := external.Watch(ctx, sdk.Target{Scheme: "marathon-lb", Ref: "/pywebserver"})
		s := fakemarathon.NewWatch(t, ch).Await("a healthy Marathon-LB", func(s sdk.Snapshot) bool { return s.Ready })
		cancel()
		if got := describe(s); got != "[127.0.0.1:80 Host=myvhost.com] ready=true " {
			t.Errorf("ready: %s", got)
		}
	}
}
