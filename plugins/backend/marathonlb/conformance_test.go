package marathonlb

import (
	"encoding/json"
	"testing"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/plugins/sdk"
	"github.com/turnout/turnout/plugins/sdk/sdktest"
)

// The plugin passes the SDK's conformance kit against the fake Marathon.
func TestConformance(t *testing.T) {
	fm := fakemarathon.New(t, fakemarathon.Options{Apps: [][]byte{fakemarathon.Fixture("marathon-lb/tests/zdd_apps.json")}})
	fm.Deploy(fakemarathon.MarathonLBSpec("/marathon-lb", "external", true))
	p := New()
	t.Cleanup(func() { p.Close() })
	sdktest.Backend(t, p, sdktest.BackendCase{
		Config: json.RawMessage(`{"urls": ["` + fm.URL() + `"], "resync": "1h", "marathon_lb_group": "external"}`),
		Target: sdk.Target{Scheme: "marathon-lb", Ref: "/nginx-green"},
		Bad:    &sdk.Target{Scheme: "marathon-lb", Ref: "nginx:X!"},
		Change: func() { fm.MarkHealthy("/marathon-lb") },
	})
}
