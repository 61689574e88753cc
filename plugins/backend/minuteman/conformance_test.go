package minuteman

import (
	"encoding/json"
	"testing"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/plugins/sdk"
	"github.com/turnout/turnout/plugins/sdk/sdktest"
)

// The plugin passes the SDK's conformance kit against the fake Marathon
// (Marathon cannot run here; the fake serves recorded answers).
func TestConformance(t *testing.T) {
	fm := fakemarathon.New(t, fakemarathon.Options{})
	fm.Deploy(simpleService("1.0.0"))
	fm.MarkHealthy("/simple-service-1.0.0")
	p := New()
	t.Cleanup(func() { p.Close() })
	sdktest.Backend(t, p, sdktest.BackendCase{
		Config: json.RawMessage(`{"urls": ["` + fm.URL() + `"], "resync": "1h"}`),
		Target: sdk.Target{Scheme: "minuteman", Ref: "/simple-service-1.0.0:3000"},
		Bad:    &sdk.Target{Scheme: "minuteman", Ref: "/app:http"},
		Change: func() { fm.KillTask(fm.Tasks("/simple-service-1.0.0")[0]) },
	})
}
