package dcos

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/marathon/marathontest"
	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/plugins/sdk"
	"github.com/turnout/turnout/plugins/sdk/sdktest"
)

// The plugin passes the SDK's conformance kit against the fake Marathon,
// on each of its schemes.
func TestConformance(t *testing.T) {
	fm := fakemarathon.New(t, fakemarathon.Options{})
	fm.Deploy(fakemarathon.AppSpec{ID: "/web", Instances: 2, HealthCheck: true,
		Ports: []fakemarathon.PortSpec{{ContainerPort: 80, Labels: map[string]string{"VIP_0": "/web:80"}}}})
	fm.MarkHealthy("/web")
	p := New()
	t.Cleanup(func() { p.Close() })
	conn := `{"urls": ["` + fm.URL() + `"], "resync": "1h"}`
	sdktest.Backend(t, p, sdktest.BackendCase{
		Config: json.RawMessage(`{"marathon": ` + conn + `, "minuteman": ` + conn + `}`),
		Target: sdk.Target{Scheme: "marathon", Ref: "/web"},
		Bad:    &sdk.Target{Scheme: "minuteman", Ref: "web:x"},
		Change: func() { fm.KillTask(fm.Tasks("/web")[0]) },
	})
}

// The three schemes share one watcher, so one event stream to Marathon,
// when their Marathon settings are the same (the Marathon-LB group aside);
// a scheme given other settings gets a watcher of its own.
func TestSchemesShareOneStream(t *testing.T) {
	fm := fakemarathon.New(t, fakemarathon.Options{})
	fm.Deploy(fakemarathon.AppSpec{ID: "/web", Instances: 1,
		Ports:  []fakemarathon.PortSpec{{ContainerPort: 80, ServicePort: 10001, Labels: map[string]string{"VIP_0": "/web:80"}}},
		Labels: map[string]string{"HAPROXY_GROUP": "internal"}})
	conn := `"urls": ["` + fm.URL() + `"], "resync": "1h"`
	p := start(t, `{"marathon": {`+conn+`}, "minuteman": {`+conn+`}, "marathon-lb": {`+conn+`, "marathon_lb_group": "internal"}}`)
	for _, tg := range []struct{ scheme, ref, want string }{
		{"marathon", "/web", "127.0.0.1:"},
		{"minuteman", "/web:80", "web.marathon.l4lb.thisdcos.directory:80"},
		{"marathon-lb", "/web", ""},
	} {
		w := marathontest.Watch(t, p, tg.scheme, tg.ref)
		w.Await(tg.scheme+" resolved", func(s sdk.Snapshot) bool {
			return s.Error == "" && (tg.want == "" || len(s.Endpoints) == 1 && strings.HasPrefix(s.Endpoints[0].Address, tg.want))
		})
	}
	testnet.Eventually(t, 10*time.Second, "one event stream", func() bool { return fm.Streams() == 1 })
	if n := len(p.Watchers()); n != 1 {
		t.Errorf("%d watchers for three schemes of one Marathon, want 1", n)
	}
	if n := fm.Requests("/v2/events"); n != 1 {
		t.Errorf("%d event stream requests, want 1", n)
	}

	// Another resync for marathon: another watcher.
	q := start(t, `{"marathon": {`+conn+`}, "minuteman": {"urls": ["`+fm.URL()+`"], "resync": "2h"}}`)
	marathontest.Watch(t, q, "marathon", "/web").Await("resolved", func(s sdk.Snapshot) bool { return len(s.Endpoints) == 1 })
	marathontest.Watch(t, q, "minuteman", "/web:80").Await("resolved", func(s sdk.Snapshot) bool { return len(s.Endpoints) == 1 })
	if n := len(q.Watchers()); n != 2 {
		t.Errorf("%d watchers for two Marathon settings, want 2", n)
	}
}

// start configures the plugin and closes it when the test ends.
func start(t *testing.T, config string) *Plugin {
	t.Helper()
	p := New()
	t.Cleanup(func() { p.Close() })
	if err := p.Configure(context.Background(), json.RawMessage(config)); err != nil {
		t.Fatal(err)
	}
	return p
}

// A configuration member that is not one of its schemes is refused by
// name, and so is a bad member's field.
func TestConfigurationRefusals(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{`{"consul": {}}`, `dcos: configuration: "consul" is not one of its schemes [marathon minuteman marathon-lb]`},
		{`{"marathon": {"resync": "1ms"}}`, "dcos: marathon: configuration: resync 1ms is too short"},
		{`{"minuteman": {"url": "x"}}`, `dcos: minuteman: configuration: json: unknown field "url"`},
		{`[]`, "dcos: configuration: want an object"},
	} {
		err := New().Configure(context.Background(), json.RawMessage(tc.raw))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.raw, err, tc.want)
		}
	}
}
