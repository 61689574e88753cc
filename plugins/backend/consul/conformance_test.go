package consul_test

import (
	"encoding/json"
	"testing"

	"github.com/turnout/turnout/internal/fakeconsul"
	"github.com/turnout/turnout/plugins/backend/consul"
	"github.com/turnout/turnout/plugins/sdk"
	"github.com/turnout/turnout/plugins/sdk/sdktest"
)

// The plugin passes the SDK's conformance kit against the fake Consul agent
// (no Consul server can run here).
func TestConformance(t *testing.T) {
	clearEnv(t)
	fake := fakeconsul.New(t, fakeconsul.Options{})
	fake.Register(inst("web-1", "node-1", "127.0.0.1", "1.1.0"))
	p := consul.New()
	t.Cleanup(func() { p.Close() })
	sdktest.Backend(t, p, sdktest.BackendCase{
		Config: json.RawMessage(`{"address": "` + fake.Addr() + `", "scheme": "http", "min_interval": "10ms"}`),
		Target: sdk.Target{Scheme: "consul", Ref: "web?tag=1.1.0"},
		Bad:    &sdk.Target{Scheme: "consul", Ref: "web?colour=red"},
		Change: func() { fake.Register(inst("web-2", "node-2", "127.0.0.2", "1.1.0")) },
	})
}
