package engine

import (
	"testing"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/pluginhost"
	"github.com/turnout/turnout/plugins/sdk"
)

func TestHoldReason(t *testing.T) {
	healthy := []sdk.Endpoint{{Address: "10.0.0.1:80", Healthy: true}}
	sick := []sdk.Endpoint{{Address: "10.0.0.1:80"}}
	for _, c := range []struct {
		name    string
		require bool
		res     pluginhost.Resolution
		ok      bool
		want    string
	}{
		{"not required", false, pluginhost.Resolution{}, false, ""},
		{"no plugin word yet", true, pluginhost.Resolution{}, false, "waiting for the backend plugin"},
		{"refused", true, pluginhost.Resolution{Error: "marathon: bad ref"}, true, "not resolved: marathon: bad ref"},
		{"first snapshot pending", true, pluginhost.Resolution{}, true, "waiting for the first resolution"},
		{"deploying", true, pluginhost.Resolution{Received: true, Endpoints: sick, Reason: "deployment in flight; 0 of 2 tasks healthy"}, true,
			"not ready: deployment in flight; 0 of 2 tasks healthy"},
		{"ready", true, pluginhost.Resolution{Received: true, Ready: true, EverReady: true, Endpoints: healthy}, true, ""},
		{"redeploying after ready", true, pluginhost.Resolution{Received: true, EverReady: true, Endpoints: healthy, Reason: "deployment in flight"}, true, ""},
		{"no healthy endpoint left", true, pluginhost.Resolution{Received: true, EverReady: true, Endpoints: sick, Reason: "0 of 1 tasks healthy"}, true,
			"no healthy endpoint: 0 of 1 tasks healthy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &gateway.Route{RequireReady: c.require}
			if got := holdReason(r, c.res, c.ok); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}
