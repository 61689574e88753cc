package sdktest

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/turnout/turnout/plugins/sdk"
)

// recorder is a testing.TB that records failures instead of failing, so
// the kit's own checks can be checked.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(f string, a ...any) {
	r.mu.Lock()
	r.msgs = append(r.msgs, fmt.Sprintf(f, a...))
	r.mu.Unlock()
}
func (r *recorder) Error(a ...any) { r.Errorf("%s", fmt.Sprint(a...)) }
func (r *recorder) Fatalf(f string, a ...any) {
	r.Errorf(f, a...)
	runtime.Goexit()
}
func (r *recorder) Fatal(a ...any) { r.Fatalf("%s", fmt.Sprint(a...)) }

func (r *recorder) run(f func()) string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msgs, "\n")
}

// sloppy breaks the rules the kit checks.
type sloppy struct{ zeroRevision bool }

func (sloppy) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "sloppy", Kind: sdk.KindBackend, Version: "1", Schemes: []string{"s"}}, nil
}
func (sloppy) Configure(context.Context, json.RawMessage) error { return nil }
func (s sloppy) Watch(ctx context.Context, t sdk.Target) (<-chan sdk.Snapshot, error) {
	ch := make(chan sdk.Snapshot, 1)
	rev := uint64(1)
	if s.zeroRevision {
		rev = 0
	}
	ch <- sdk.Snapshot{Revision: rev, Ready: true, Endpoints: []sdk.Endpoint{{Address: "no-port", Healthy: true}}}
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

func TestKitCatchesBrokenBackends(t *testing.T) {
	r := &recorder{TB: t}
	got := r.run(func() {
		Backend(r, sloppy{zeroRevision: true}, BackendCase{
			Target: sdk.Target{Scheme: "s", Ref: "x"},
			Bad:    &sdk.Target{Scheme: "s", Ref: "bad"},
		})
	})
	for _, want := range []string{
		"Snapshot: revision 0 (revisions start at 1)",
		`Snapshot: endpoint address "no-port" is not host:port`,
		"Watch(s:bad): no error for a bad target",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the kit did not report %q; it reported:\n%s", want, got)
		}
	}
}

// badPolicy decides wrongly.
type badPolicy struct{}

func (badPolicy) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "bad", Kind: sdk.KindPolicy, Version: "1"}, nil
}
func (badPolicy) Configure(context.Context, json.RawMessage) error { return nil }
func (badPolicy) ValidateConfig(context.Context, json.RawMessage, []string) error {
	return nil
}
func (badPolicy) Decide(context.Context, sdk.Input) (sdk.Decision, error) {
	return sdk.Decision{Action: sdk.Step, Weights: map[string]int{"a": 7000, "b": 7000, "zz": 1}}, nil
}

func TestKitCatchesBrokenPolicies(t *testing.T) {
	r := &recorder{TB: t}
	got := r.run(func() {
		Policy(r, badPolicy{}, PolicyCase{Policy: json.RawMessage(`{}`), Routes: []string{"a", "b"},
			BadPolicy: json.RawMessage(`{"x": 1}`), Inputs: []sdk.Input{{}}})
	})
	for _, want := range []string{
		`ValidateConfig({"x": 1}): no error for a bad policy`,
		`Decide #1: weight for "zz", not a route`,
		"Decide #1: step without a reason",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the kit did not report %q; it reported:\n%s", want, got)
		}
	}
}
