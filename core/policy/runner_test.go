package policy

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/store"
	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/plugins/sdk"
)

// stepper is a policy that moves the canary by 50 points per decision
// (more than the gateway's max_step, so the runner must clamp), keeps a
// counter in its state, and records what it was given.
type stepper struct {
	mu     sync.Mutex
	inputs []sdk.Input
	fail   error
}

func (s *stepper) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "stepper", Kind: sdk.KindPolicy, Version: "1"}, nil
}
func (s *stepper) Configure(context.Context, json.RawMessage) error { return nil }
func (s *stepper) ValidateConfig(_ context.Context, cfg json.RawMessage, routes []string) error {
	if !strings.Contains(string(cfg), `"canary":"t:b"`) {
		return errors.New("stepper: canary must be t:b")
	}
	return nil
}

func (s *stepper) Decide(_ context.Context, in sdk.Input) (sdk.Decision, error) {
	s.mu.Lock()
	s.inputs = append(s.inputs, in)
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		return sdk.Decision{}, fail
	}
	var st struct{ N int }
	if in.State != nil {
		json.Unmarshal(in.State, &st)
	}
	st.N++
	state, _ := json.Marshal(st)
	b, _ := in.Route("t:b")
	switch in.Command {
	case sdk.CommandAbort:
		return sdk.Decision{Action: sdk.Rollback, Weights: map[string]int{"t:a": 10000, "t:b": 0}, Reason: "aborted", State: state}, nil
	case sdk.CommandPromote:
		return sdk.Decision{Action: sdk.Promote, Weights: map[string]int{"t:a": 0, "t:b": 10000}, Reason: "promoted by hand", State: state}, nil
	}
	w := min(b.Weight+5000, 10000)
	return sdk.Decision{Action: sdk.Step, Weights: map[string]int{"t:a": 10000 - w, "t:b": w}, State: state,
		Reason: "more", Checks: []sdk.Check{{Name: "requests", Route: "t:b", Value: float64(b.Requests), Passed: true}}}, nil
}

func (s *stepper) calls() []sdk.Input {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sdk.Input(nil), s.inputs...)
}

type plugins struct{ p sdk.Policy }

func (p plugins) CheckPolicy(name string) error {
	if name != "stepper" {
		return errors.New("no policy plugin " + name)
	}
	return nil
}
func (p plugins) Policy(string) (sdk.Policy, error) { return p.p, nil }

const doc = `name: shop
port: 8080/http
routes:
  a: {}
  b: {}
policy:
  type: stepper
  interval: 1h
  canary: "t:b"
  max_step: 10
`

func seed(t *testing.T, st store.Store) *gateway.Gateway {
	t.Helper()
	g, err := gateway.DecodeOne([]byte(strings.NewReplacer("a: {}", `"t:a": {weight: 100%}`, "b: {}", `"t:b": {weight: 0%}`).Replace(doc)), "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := g.MarshalJSON()
	if _, err := st.Apply(context.Background(), []store.Change{{Name: "shop", Doc: b, Match: store.Absent}}); err != nil {
		t.Fatal(err)
	}
	return g
}

func weights(t *testing.T, st store.Store) string {
	t.Helper()
	en, err := st.Get(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.DecodeOne(en.Doc, "")
	if err != nil {
		t.Fatal(err)
	}
	return g.Routes[0].Weight.String() + "/" + g.Routes[1].Weight.String()
}

func startRunner(t *testing.T, st store.Store, p sdk.Policy, reg *metrics.Registry) *Runner {
	t.Helper()
	r := New(Options{Store: st, Plugins: plugins{p}, Metrics: reg})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return r
}

func TestDecisionsAreClampedAndRecordedWithReasons(t *testing.T) {
	st := store.NewMemory()
	seed(t, st)
	reg := metrics.NewRegistry()
	p := &stepper{}
	r := startRunner(t, st, p, reg)
	// The first decision comes at once: +50 asked, +10 (max_step) applied.
	testnet.Eventually(t, 5*time.Second, "the first step", func() bool { return weights(t, st) == "90%/10%" })
	h, _ := st.History(context.Background(), "shop")
	if last := h[len(h)-1]; last.Reason != "policy stepper: step: more" {
		t.Fatalf("reason %q", last.Reason)
	}
	// Traffic counted by the data plane reaches the next decision's window.
	m := reg.Route("shop", "t:b", metrics.HTTP)
	for range 7 {
		m.Observe(200, time.Millisecond)
	}
	m.Observe(503, 2*time.Millisecond)
	dueNow(t, st)
	r.kick("shop")
	testnet.Eventually(t, 5*time.Second, "the second step", func() bool { return weights(t, st) == "80%/20%" })
	calls := p.calls()
	b, _ := calls[1].Route("t:b")
	if b.Requests != 8 || b.Responses[4] != 1 || b.Weight != 1000 || b.P99 <= 0 || string(calls[1].State) != `{"N":1}` {
		t.Fatalf("second input: %+v state %s", b, calls[1].State)
	}
	s, ok, err := r.Status(context.Background(), "shop")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	ps := s.(Status)
	if ps.Phase != "progressing" || ps.Decisions != 2 || ps.Last.Weights["t:b"] != "20%" || len(ps.Last.Checks) != 1 || ps.Interval != "1h0m0s" {
		t.Fatalf("status %+v", ps)
	}
}

func TestFailingPolicyHoldsTheWeights(t *testing.T) {
	st := store.NewMemory()
	seed(t, st)
	p := &stepper{fail: errors.New("stepper: metrics provider down")}
	r := startRunner(t, st, p, nil)
	testnet.Eventually(t, 5*time.Second, "a failed decision recorded", func() bool {
		s, _, _ := r.Status(context.Background(), "shop")
		l := s.(Status).Last
		return l != nil && l.Error == "stepper: metrics provider down" && l.Action == sdk.Hold
	})
	if w := weights(t, st); w != "100%/0%" {
		t.Fatalf("weights moved to %s", w)
	}
}

func TestCommands(t *testing.T) {
	st := store.NewMemory()
	seed(t, st)
	p := &stepper{}
	r := startRunner(t, st, p, nil)
	ctx := context.Background()
	testnet.Eventually(t, 5*time.Second, "the first step", func() bool { return weights(t, st) == "90%/10%" })

	if err := r.Command(ctx, "shop", sdk.CommandPause); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 5*time.Second, "paused", func() bool {
		s, _, _ := r.Status(ctx, "shop")
		return s.(Status).Paused && s.(Status).Phase == PhasePaused
	})
	n := len(p.calls())
	r.kick("shop") // a paused policy is not asked
	if err := r.Command(ctx, "shop", sdk.CommandPromote); err != nil {
		t.Fatal(err)
	}
	// Promote acts even while paused, at once, unclamped.
	testnet.Eventually(t, 5*time.Second, "promoted", func() bool { return weights(t, st) == "0%/100%" })
	calls := p.calls()
	if len(calls) != n+1 || calls[n].Command != sdk.CommandPromote {
		t.Fatalf("calls after pause: %d (then %d), last command %q", n, len(calls), calls[len(calls)-1].Command)
	}
	s, _, _ := r.Status(ctx, "shop")
	if ps := s.(Status); ps.Phase != PhasePromoted || !ps.Done {
		t.Fatalf("status %+v", ps)
	}
	// Abort after promotion: the policy still answers an operator.
	if err := r.Command(ctx, "shop", sdk.CommandAbort); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 5*time.Second, "rolled back", func() bool { return weights(t, st) == "100%/0%" })

	if err := r.Command(ctx, "nope", sdk.CommandPause); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown gateway: %v", err)
	}
}

func TestRestartResumesWhereItWas(t *testing.T) {
	st := store.NewMemory()
	seed(t, st)
	p := &stepper{}
	r := New(Options{Store: st, Plugins: plugins{p}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	testnet.Eventually(t, 5*time.Second, "the first step", func() bool { return weights(t, st) == "90%/10%" })
	cancel()
	<-done

	// A new runner (a restarted turnout) on the same store, once the
	// next decision is due: the plugin's state is the one it left.
	dueNow(t, st)
	p2 := &stepper{}
	startRunner(t, st, p2, nil)
	testnet.Eventually(t, 5*time.Second, "the kicked decision", func() bool { return len(p2.calls()) == 1 })
	if got := string(p2.calls()[0].State); got != `{"N":1}` {
		t.Fatalf("state after restart %s", got)
	}
	testnet.Eventually(t, 5*time.Second, "the second step", func() bool { return weights(t, st) == "80%/20%" })
}

func TestCheckAsksThePlugin(t *testing.T) {
	r := New(Options{Store: store.NewMemory(), Plugins: plugins{&stepper{}}})
	g, err := gateway.DecodeOne([]byte(strings.NewReplacer("a: {}", `"t:a": {}`, "b: {}", `"t:b": {}`, `canary: "t:b"`, `canary: "t:c"`).Replace(doc)), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(context.Background(), []*gateway.Gateway{g}); err == nil || err.Error() != `gateway "shop": policy: stepper: canary must be t:b` {
		t.Fatalf("got %v", err)
	}
	g.Policy.Type = "nope"
	if err := r.Check(context.Background(), []*gateway.Gateway{g}); err == nil || err.Error() != `gateway "shop": policy: no policy plugin nope` {
		t.Fatalf("got %v", err)
	}
}

// ender is a policy like the canary: it steps to 10%, promotes or rolls
// back on command, and after either holds whatever it is asked.
type ender struct{ stepper }

func (e *ender) Decide(ctx context.Context, in sdk.Input) (sdk.Decision, error) {
	e.mu.Lock()
	e.inputs = append(e.inputs, in)
	e.mu.Unlock()
	var st struct{ Phase string }
	if in.State != nil {
		json.Unmarshal(in.State, &st)
	}
	d := sdk.Decision{Action: sdk.Step, Weights: map[string]int{"t:a": 9000, "t:b": 1000}, Reason: "the rollout starts"}
	switch {
	case st.Phase == "promoted" || st.Phase == "rolled-back":
		d = sdk.Decision{Action: sdk.Hold, Reason: "the rollout is over (" + st.Phase + ")"}
	case in.Command == sdk.CommandAbort:
		st.Phase = "rolled-back"
		d = sdk.Decision{Action: sdk.Rollback, Weights: map[string]int{"t:a": 10000, "t:b": 0}, Reason: "aborted"}
	case in.Command == sdk.CommandPromote:
		st.Phase = "promoted"
		d = sdk.Decision{Action: sdk.Promote, Weights: map[string]int{"t:a": 0, "t:b": 10000}, Reason: "promoted"}
	default:
		st.Phase = "progressing"
	}
	d.State, _ = json.Marshal(st)
	d.Phase = st.Phase
	return d, nil
}

func status(t *testing.T, r *Runner) Status {
	t.Helper()
	s, ok, err := r.Status(context.Background(), "shop")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	return s.(Status)
}

func wantRefused(t *testing.T, err error, want string) {
	t.Helper()
	if !errors.Is(err, ErrRefused) || err.Error() != want {
		t.Errorf("got %v, want refused: %s", err, want)
	}
}

// After a promotion, a command the policy has nothing to do for is
// refused with why and what to do instead; the rollout's record stays.
func TestCommandsAfterAPromotionAreRefused(t *testing.T) {
	st := store.NewMemory()
	seed(t, st)
	r := startRunner(t, st, &ender{}, nil)
	ctx := context.Background()
	testnet.Eventually(t, 5*time.Second, "the first step", func() bool { return weights(t, st) == "90%/10%" })
	if err := r.Command(ctx, "shop", sdk.CommandPromote); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 5*time.Second, "promoted", func() bool { return weights(t, st) == "0%/100%" })
	before := status(t, r)
	if before.Ended != sdk.Promote || before.EndedRevision != 3 {
		t.Fatalf("ended %q at %d, want promote at 3", before.Ended, before.EndedRevision)
	}
	wantRefused(t, r.Command(ctx, "shop", sdk.CommandAbort),
		"nothing to abort: the rollout of gateway shop was promoted at revision 3; use `turnout gateway rollback shop --to 2` or `turnout gateway update shop --weights`")
	wantRefused(t, r.Command(ctx, "shop", sdk.CommandPromote), "nothing to promote: the rollout of gateway shop was promoted at revision 3")
	wantRefused(t, r.Command(ctx, "shop", sdk.CommandPause), "nothing to pause: the rollout of gateway shop was promoted at revision 3")
	wantRefused(t, r.Command(ctx, "shop", sdk.CommandResume), "nothing to resume: the rollout of gateway shop was promoted at revision 3")
	wantRefused(t, r.Command(ctx, "shop", CommandRetry), "nothing to retry: the rollout of gateway shop was promoted at revision 3; a changed policy section starts another")
	after := status(t, r)
	if weights(t, st) != "0%/100%" || after.Phase != PhasePromoted || after.Paused || after.Decisions != before.Decisions || after.Last.Action != sdk.Promote {
		t.Fatalf("the refused commands changed the rollout: %s, %+v", weights(t, st), after)
	}
}

// After a rollback too.
func TestCommandsAfterARollbackAreRefused(t *testing.T) {
	st := store.NewMemory()
	seed(t, st)
	r := startRunner(t, st, &ender{}, nil)
	ctx := context.Background()
	testnet.Eventually(t, 5*time.Second, "the first step", func() bool { return weights(t, st) == "90%/10%" })
	if err := r.Command(ctx, "shop", sdk.CommandAbort); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 5*time.Second, "rolled back", func() bool { return weights(t, st) == "100%/0%" })
	wantRefused(t, r.Command(ctx, "shop", sdk.CommandAbort),
		"nothing to abort: the rollout of gateway shop was rolled back at revision 3; `turnout gateway retry shop` starts it again")
	wantRefused(t, r.Command(ctx, "shop", sdk.CommandPromote),
		"nothing to promote: the rollout of gateway shop was rolled back at revision 3; `turnout gateway retry shop` starts it again")
}

// A rolled-back rollout is retried from its first step, as a new revision
// saying so; retry is refused while the rollout goes on.
func TestRetryRestartsARolledBackRollout(t *testing.T) {
	st := store.NewMemory()
	seed(t, st)
	r := startRunner(t, st, &ender{}, nil)
	ctx := context.Background()
	testnet.Eventually(t, 5*time.Second, "the first step", func() bool { return weights(t, st) == "90%/10%" })
	wantRefused(t, r.Command(ctx, "shop", CommandRetry),
		"nothing to retry: the rollout of gateway shop is still going (progressing); `turnout gateway abort shop` rolls it back")
	if err := r.Command(ctx, "shop", sdk.CommandAbort); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 5*time.Second, "rolled back", func() bool { return weights(t, st) == "100%/0%" })
	wantRefused(t, r.Command(ctx, "shop", sdk.CommandAbort),
		"nothing to abort: the rollout of gateway shop was rolled back at revision 3; `turnout gateway retry shop` starts it again")

	if err := r.Command(ctx, "shop", CommandRetry); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 5*time.Second, "the first step again", func() bool { return weights(t, st) == "90%/10%" })
	h, _ := st.History(ctx, "shop")
	if last := h[len(h)-1]; last.Reason != "policy stepper: step: the rollout starts; retry 1 by an operator after rolled-back" {
		t.Errorf("the retried rollout's revision: %q", last.Reason)
	}
	if s := status(t, r); s.Phase != "progressing" || s.Done || s.Retries != 1 || s.RetryNote != "" || s.Decisions != 1 {
		t.Errorf("after the retry: %+v", s)
	}
	if err := r.Command(ctx, "nope", CommandRetry); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown gateway: %v", err)
	}
}

// fakeLeader is an election decided by the test.
type fakeLeader struct {
	mu      sync.Mutex
	leading bool
	changed chan struct{}
}

func newFakeLeader(leading bool) *fakeLeader {
	return &fakeLeader{leading: leading, changed: make(chan struct{})}
}

func (f *fakeLeader) Leading() (bool, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leading, f.changed
}

func (f *fakeLeader) set(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leading = v
	close(f.changed)
	f.changed = make(chan struct{})
}

func runWith(t *testing.T, st store.Store, p sdk.Policy, l Leader) *Runner {
	t.Helper()
	r := New(Options{Store: st, Plugins: plugins{p}, Leader: l})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func (r *Runner) running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.loops)
}

// Two agents on one store: only the leader decides; a command given to
// the other is taken by the leader at once; the leader's successor goes on
// from the persisted state, without a step of its own on taking over.
func TestOnlyTheLeaderRunsPolicies(t *testing.T) {
	st := store.NewMemory()
	ctx := context.Background()
	pa, pb := &stepper{}, &stepper{}
	la, lb := newFakeLeader(false), newFakeLeader(false)
	ra := runWith(t, st, pa, la)
	rb := runWith(t, st, pb, lb)
	seed(t, st)
	la.set(true)
	testnet.Eventually(t, 5*time.Second, "a's first step", func() bool { return weights(t, st) == "90%/10%" })
	if rb.running() != 0 || len(pb.calls()) != 0 {
		t.Fatalf("b, not leading, runs %d loops and decided %d times", rb.running(), len(pb.calls()))
	}

	// Pause through b: a takes it now, not in an hour.
	if err := rb.Command(ctx, "shop", sdk.CommandPause); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 5*time.Second, "paused by a", func() bool {
		s, _, _ := ra.Status(ctx, "shop")
		return s.(Status).Phase == PhasePaused
	})
	if err := rb.Command(ctx, "shop", sdk.CommandResume); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 5*time.Second, "resumed by a", func() bool {
		s, _, _ := ra.Status(ctx, "shop")
		return !s.(Status).Paused
	})

	// a loses the lead, b gains it: b's loop waits for the persisted
	// schedule (an hour) instead of stepping.
	testnet.Eventually(t, 5*time.Second, "a's step on resuming", func() bool { return weights(t, st) == "80%/20%" })
	la.set(false)
	testnet.Eventually(t, 5*time.Second, "a's loops stopped", func() bool { return ra.running() == 0 })
	lb.set(true)
	testnet.Eventually(t, 5*time.Second, "b's loop", func() bool { return rb.running() == 1 })
	rb.kick("shop") // a kick without a command is no decision either
	if err := ra.Command(ctx, "shop", sdk.CommandPromote); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 5*time.Second, "promoted by b", func() bool { return weights(t, st) == "0%/100%" })
	if calls := pb.calls(); len(calls) != 1 || calls[0].Command != sdk.CommandPromote || string(calls[0].State) != `{"N":2}` {
		t.Fatalf("b's decisions: %+v; want one, the promote, from a's state", calls)
	}
}

// dueNow makes the next decision due, as if its interval had passed: the
// runner decides on the persisted schedule, a kick alone does not.
func dueNow(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	en, err := st.Policy(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var ps State
	if err := json.Unmarshal(en.Doc, &ps); err != nil {
		t.Fatal(err)
	}
	ps.Next = time.Now().Add(-time.Second)
	b, _ := json.Marshal(ps)
	if _, err := st.Apply(ctx, []store.Change{{Kind: store.KindPolicy, Name: "shop", Doc: b, Match: en.Revision}}); err != nil {
		t.Fatal(err)
	}
}

// unavailable is a policy plugin that is restarting: every call fails.
type unavailable struct{ stepper }

func (*unavailable) ValidateConfig(context.Context, json.RawMessage, []string) error {
	return sdk.ErrUnavailable
}

// A policy its plugin accepted is not asked again while it is unchanged:
// a write that leaves it as it was passes while its plugin restarts, and a
// change to it is asked, and refused.
func TestCheckAsksOnlyForChangedPolicies(t *testing.T) {
	p := &switchable{p: &stepper{}}
	r := New(Options{Store: store.NewMemory(), Plugins: p})
	decode := func(canary string) *gateway.Gateway {
		t.Helper()
		g, err := gateway.DecodeOne([]byte(strings.NewReplacer("a: {}", `"t:a": {}`, "b: {}", `"t:b": {}`, `canary: "t:b"`, `canary: "`+canary+`"`).Replace(doc)), "")
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	ctx := context.Background()
	if err := r.Check(ctx, []*gateway.Gateway{decode("t:b")}); err != nil {
		t.Fatal(err)
	}
	p.set(&unavailable{})
	if err := r.Check(ctx, []*gateway.Gateway{decode("t:b")}); err != nil {
		t.Fatalf("the unchanged policy was asked again: %v", err)
	}
	if err := r.Check(ctx, []*gateway.Gateway{decode("t:a")}); !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("a changed policy: %v, want the plugin asked (and unavailable)", err)
	}
}

type switchable struct {
	mu sync.Mutex
	p  sdk.Policy
}

func (s *switchable) CheckPolicy(name string) error { return plugins{}.CheckPolicy(name) }
func (s *switchable) Policy(string) (sdk.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p, nil
}
func (s *switchable) set(p sdk.Policy) {
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
}
