package marathon

import (
	"encoding/json"
	"testing"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/plugins/sdk"
	"github.com/turnout/turnout/plugins/sdk/sdktest"
)

// The plugin passes the SDK's conformance kit against the fake Marathon.
func TestConformance(t *testing.T) {
	fm := fakemarathon.New(t, fakemarathon.Options{})
	fm.Deploy(fakemarathon.AppSpec{ID: "/web", Instances: 2, HealthCheck: true, Ports: []fakemarathon.PortSpec{{ContainerPort: 80}}})
	fm.MarkHealthy("/web")
	p := New()
	t.Cleanup(func() { p.Close() })
	sdktest.Backend(t, p, sdktest.BackendCase{
		Config: json.RawMessage(`{"urls": ["` + fm.URL() + `"], "resync": "1h"}`),
		Target: sdk.Target{Scheme: "marathon", Ref: "/web"},
		Bad:    &sdk.Target{Scheme: "marathon", Ref: "web:X!"},
		Change: func() { fm.KillTask(fm.Tasks("/web")[0]) },
	})
}
