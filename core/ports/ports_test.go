package ports

import (
	"context"
	"strings"
	"testing"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/marathon"
)

// model reads a fake Marathon with the zdd blue/green pair, a Marathon-LB
// and the given apps.
func model(t *testing.T, bind bool, specs ...fakemarathon.AppSpec) *marathon.Model {
	t.Helper()
	fm := fakemarathon.New(t, fakemarathon.Options{Apps: [][]byte{fakemarathon.Fixture("marathon-lb/tests/zdd_apps.json")}})
	fm.Deploy(fakemarathon.MarathonLBSpec("/marathon-lb", "external", bind))
	for _, s := range specs {
		fm.Deploy(s)
	}
	c, err := marathon.NewClient(marathon.Config{URLs: []string{fm.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCheck(t *testing.T) {
	inRange := fakemarathon.AppSpec{ID: "/legacy", Instances: 1, Labels: map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": "8080"},
		Ports: []fakemarathon.PortSpec{{ContainerPort: 80, ServicePort: 10020}}}
	for _, tc := range []struct {
		name     string
		bind     bool
		apps     []fakemarathon.AppSpec
		gateways []Gateway
		want     []string
	}{
		{"no conflicts", true, nil, []Gateway{{"simpleservice", 8080}}, nil},
		{"marathon-lb's own ports", true, nil, []Gateway{{"web", 80}, {"stats", 9090}, {"tls", 443}, {"appid", 9091}}, []string{
			`port 80: gateway "web" and Marathon-LB /marathon-lb (HTTP virtual host frontend)`,
			`port 443: gateway "tls" and Marathon-LB /marathon-lb (HTTPS virtual host frontend)`,
			`port 9090: gateway "stats" and Marathon-LB /marathon-lb (stats and admin port)`,
			`port 9091: gateway "appid" and Marathon-LB /marathon-lb (X-Marathon-App-Id frontend)`,
		}},
		{"80 and 443 free without bind-http-https", false, nil, []Gateway{{"web", 80}, {"tls", 443}}, nil},
		{"an app's service ports", true, nil, []Gateway{{"api", 10000}, {"spare", 10050}}, []string{
			`port 10000: gateway "api" and app /nginx-blue (HAPROXY_0_PORT, Marathon-LB /marathon-lb group external)`,
			`port 10000: gateway "api" and app /nginx-green (HAPROXY_0_PORT, Marathon-LB /marathon-lb group external)`,
			`port 10050: gateway "spare" and Marathon-LB /marathon-lb (service port range 10000-10100)`,
		}},
		{"HAPROXY_0_PORT in the gateway range", true, []fakemarathon.AppSpec{inRange}, nil, []string{
			`port 8080: Turnout's gateway port range 8000-9999 and app /legacy (HAPROXY_0_PORT, Marathon-LB /marathon-lb group external)`,
		}},
		{"HAPROXY_0_PORT on a gateway", true, []fakemarathon.AppSpec{inRange}, []Gateway{{"simpleservice", 8080}}, []string{
			`port 8080: gateway "simpleservice" and app /legacy (HAPROXY_0_PORT, Marathon-LB /marathon-lb group external)`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range Check(DefaultConfig(), model(t, tc.bind, tc.apps...), tc.gateways) {
				got = append(got, c.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestOwner(t *testing.T) {
	tab := NewTable(DefaultConfig(), model(t, true))
	for port, want := range map[int]string{
		9090:  "Marathon-LB /marathon-lb (stats and admin port)",
		80:    "Marathon-LB /marathon-lb (HTTP virtual host frontend)",
		10000: "app /nginx-blue (HAPROXY_0_PORT, Marathon-LB /marathon-lb group external)",
		10099: "Marathon-LB /marathon-lb (service port range 10000-10100)",
		8080:  "",
	} {
		got, ok := tab.Owner(port)
		if got != want || ok != (want != "") {
			t.Errorf("Owner(%d) = %q %v, want %q", port, got, ok, want)
		}
	}
	// Without Marathon, nothing is known to be taken.
	if _, ok := NewTable(DefaultConfig(), nil).Owner(9090); ok {
		t.Error("an owner without Marathon")
	}
}

func TestRanges(t *testing.T) {
	for in, want := range map[string]string{"8000-9999": "8000-9999", " 80 ": "80", "10000-10100": "10000-10100"} {
		r, err := ParseRange(in)
		if err != nil || r.String() != want {
			t.Errorf("%q: %v %v", in, r, err)
		}
	}
	for _, bad := range []string{"", "9999-8000", "0-10", "1-70000", "a-b", "80-"} {
		if _, err := ParseRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	c := DefaultConfig()
	c.Gateways = Range{8000, 10050}
	if err := c.Validate(); err == nil || err.Error() != "the gateway port range 8000-10050 overlaps Marathon-LB's service port range 10000-10100" {
		t.Errorf("overlap: %v", err)
	}
}
