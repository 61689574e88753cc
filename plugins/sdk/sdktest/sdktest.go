// Package sdktest is the conformance kit for Turnout plugins: run it in a
// plugin's own tests and it talks to the plugin over the real gRPC
// transport (in process), the way Turnout will, and checks what Turnout
// relies on: the plugin describes itself, takes its configuration, sends a
// first snapshot, raises revisions, closes its stream on cancel, refuses
// bad input with an error, and makes well-formed decisions.
//
//	func TestConformance(t testing.TB) {
//		sdktest.Backend(t, myplugin.New(), sdktest.BackendCase{
//			Target: sdk.Target{Scheme: "file", Ref: path},
//			Bad:    &sdk.Target{Scheme: "file", Ref: "relative"},
//			Change: func() { os.WriteFile(path, ...) },
//		})
//	}
package sdktest

import (
	"context"
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/turnout/turnout/plugins/sdk"
)

// connect serves p over an in-process gRPC connection and returns the
// host's side of it.
func connect(t testing.TB, p sdk.Plugin, kind sdk.Kind) sdk.Plugin {
	t.Helper()
	sets, err := sdk.ServerPlugins(p)
	if err != nil {
		t.Fatal(err)
	}
	client, _ := plugin.TestPluginGRPCConn(t, false, sets[sdk.APIVersion])
	t.Cleanup(func() { client.Close() })
	impl, err := sdk.Dispense(client, kind)
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	return impl
}

// checkBase checks Info and Configure.
func checkBase(t testing.TB, p sdk.Plugin, kind sdk.Kind, config json.RawMessage) sdk.Info {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := p.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	switch {
	case info.Name == "":
		t.Error("Info: no Name")
	case info.Kind != kind:
		t.Errorf("Info: Kind %q, want %q", info.Kind, kind)
	case info.Version == "":
		t.Error("Info: no Version")
	case !slices.Contains(info.APIVersions, sdk.APIVersion):
		t.Errorf("Info: APIVersions %v lack %d", info.APIVersions, sdk.APIVersion)
	}
	if config == nil {
		config = json.RawMessage("{}")
	}
	if err := p.Configure(ctx, config); err != nil {
		t.Fatalf("Configure(%s): %v", config, err)
	}
	return info
}

// BackendCase is what Backend needs to exercise a backend plugin.
type BackendCase struct {
	// Config is given to Configure (default {}).
	Config json.RawMessage
	// Target is one the plugin resolves.
	Target sdk.Target
	// Bad, if set, is a target the plugin must refuse with an error.
	Bad *sdk.Target
	// Change, if set, changes Target's endpoints: a snapshot with a higher
	// revision must follow.
	Change func()
	// Timeout bounds each wait (default 10s).
	Timeout time.Duration
}

// Backend runs the conformance checks on a backend plugin.
func Backend(t testing.TB, p sdk.Backend, c BackendCase) {
	t.Helper()
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	b := connect(t, p, sdk.KindBackend).(sdk.Backend)
	info := checkBase(t, b, sdk.KindBackend, c.Config)
	if !slices.Contains(info.Schemes, c.Target.Scheme) {
		t.Errorf("Info: Schemes %v lack the target's %q", info.Schemes, c.Target.Scheme)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := b.Watch(ctx, c.Target)
	if err != nil {
		t.Fatalf("Watch(%s): %v", c.Target, err)
	}
	first := receive(t, ch, c.Timeout, "the first snapshot")
	checkSnapshot(t, first)
	if c.Change != nil {
		c.Change()
		deadline := time.After(c.Timeout)
		for {
			var s sdk.Snapshot
			select {
			case got, ok := <-ch:
				if !ok {
					t.Fatal("Watch: the stream closed before a snapshot after the change")
				}
				s = got
			case <-deadline:
				t.Fatalf("Watch: no snapshot within %s after the change", c.Timeout)
			}
			checkSnapshot(t, s)
			if s.Revision <= first.Revision {
				t.Fatalf("Watch: revision %d after revision %d: revisions must increase", s.Revision, first.Revision)
			}
			if s.Revision > first.Revision {
				break
			}
		}
	}
	cancel()
	closed := time.After(c.Timeout)
	for open := true; open; {
		select {
		case _, open = <-ch:
		case <-closed:
			t.Fatalf("Watch: the stream is still open %s after its context was cancelled", c.Timeout)
		}
	}

	if c.Bad != nil {
		bctx, bcancel := context.WithTimeout(context.Background(), c.Timeout)
		defer bcancel()
		ch, err := b.Watch(bctx, *c.Bad)
		if err == nil {
			t.Errorf("Watch(%s): no error for a bad target", c.Bad)
			for range ch {
				bcancel()
			}
		} else if err.Error() == "" {
			t.Errorf("Watch(%s): an error without words", c.Bad)
		}
	}
}

func receive(t testing.TB, ch <-chan sdk.Snapshot, within time.Duration, what string) sdk.Snapshot {
	t.Helper()
	select {
	case s, ok := <-ch:
		if !ok {
			t.Fatalf("Watch: the stream closed before %s", what)
		}
		return s
	case <-time.After(within):
		t.Fatalf("Watch: no %s within %s", what, within)
	}
	return sdk.Snapshot{}
}

func checkSnapshot(t testing.TB, s sdk.Snapshot) {
	t.Helper()
	if s.Revision == 0 {
		t.Error("Snapshot: revision 0 (revisions start at 1)")
	}
	for _, e := range s.Endpoints {
		host, port, err := net.SplitHostPort(e.Address)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			t.Errorf("Snapshot: endpoint address %q is not host:port", e.Address)
		}
	}
	if !s.Ready && s.Reason == "" && s.Error == "" {
		t.Error("Snapshot: not ready without a reason")
	}
}

// PolicyCase is what Policy needs to exercise a policy plugin.
type PolicyCase struct {
	// Config is given to Configure (default {}).
	Config json.RawMessage
	// Policy is a valid `policy:` section (as JSON) for a gateway with
	// these routes.
	Policy json.RawMessage
	Routes []string
	// BadPolicy, if set, must be refused by ValidateConfig.
	BadPolicy json.RawMessage
	// Inputs are decided one after the other, each getting the state of
	// the decision before; their Config defaults to Policy.
	Inputs []sdk.Input
}

// Policy runs the conformance checks on a policy plugin.
func Policy(t testing.TB, p sdk.Policy, c PolicyCase) {
	t.Helper()
	pol := connect(t, p, sdk.KindPolicy).(sdk.Policy)
	checkBase(t, pol, sdk.KindPolicy, c.Config)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pol.ValidateConfig(ctx, c.Policy, c.Routes); err != nil {
		t.Fatalf("ValidateConfig(%s): %v", c.Policy, err)
	}
	if c.BadPolicy != nil {
		if err := pol.ValidateConfig(ctx, c.BadPolicy, c.Routes); err == nil || err.Error() == "" {
			t.Errorf("ValidateConfig(%s): no error for a bad policy", c.BadPolicy)
		}
	}
	var state json.RawMessage
	for i, in := range c.Inputs {
		if in.Config == nil {
			in.Config = c.Policy
		}
		if in.State == nil {
			in.State = state
		}
		d, err := pol.Decide(ctx, in)
		if err != nil {
			t.Fatalf("Decide #%d: %v", i+1, err)
		}
		checkDecision(t, i+1, d, c.Routes)
		state = d.State
	}
}

func checkDecision(t testing.TB, n int, d sdk.Decision, routes []string) {
	t.Helper()
	switch d.Action {
	case sdk.Hold, sdk.Pause:
	case sdk.Step, sdk.Promote, sdk.Rollback:
		if d.Weights == nil {
			break
		}
		sum := 0
		for r, w := range d.Weights {
			if !slices.Contains(routes, r) {
				t.Errorf("Decide #%d: weight for %q, not a route", n, r)
			}
			if w < 0 || w > 10000 {
				t.Errorf("Decide #%d: weight %d for %q outside 0-10000", n, w, r)
			}
			sum += w
		}
		if len(d.Weights) == len(routes) && sum != 10000 {
			t.Errorf("Decide #%d: weights sum to %d basis points, not 10000", n, sum)
		}
	default:
		t.Errorf("Decide #%d: unknown action %q", n, d.Action)
	}
	if d.Reason == "" {
		t.Errorf("Decide #%d: %s without a reason", n, d.Action)
	}
	if d.State != nil && !json.Valid(d.State) {
		t.Errorf("Decide #%d: state is not JSON: %q", n, d.State)
	}
}
