package policy

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/turnout/turnout/core/events"
	"github.com/turnout/turnout/core/store"
	"github.com/turnout/turnout/plugins/sdk"
)

// TestDecisionsArePublished: each saved decision is a policy.decision
// event with its action, phase, step, checks and weights; an operator's
// command carries its author and reason into the revisions it makes.
func TestDecisionsArePublished(t *testing.T) {
	st := store.NewMemory()
	seed(t, st)
	bus := events.New(0, 0)
	sub, _, _ := bus.Subscribe(events.Filter{Types: []string{"policy"}}, 0, false)
	r := New(Options{Store: st, Plugins: plugins{&stepper{}}, Events: bus})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Run(ctx)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	next := func() (events.Event, decisionEvent) {
		t.Helper()
		select {
		case e := <-sub.C():
			var d decisionEvent
			if err := json.Unmarshal(e.JSON(), &struct {
				Data *decisionEvent `json:"data"`
			}{&d}); err != nil {
				t.Fatal(err)
			}
			return *e, d
		case <-time.After(10 * time.Second):
			t.Fatal("no decision event in 10s")
		}
		panic("unreachable")
	}
	e, d := next()
	if e.Type != events.PolicyDecision || e.Gateway != "shop" || e.Reason != "more" || d.Policy != "stepper" || d.Action != sdk.Step ||
		d.Phase != "progressing" || d.Step != 1 || len(d.Checks) != 1 || d.Checks[0].Name != "requests" || d.Weights["t:b"] != "10%" {
		t.Fatalf("first decision: %+v %+v", e, d)
	}
	if err := r.Command(WithOperator(ctx, "alice", "the canary looks fine"), "shop", sdk.CommandPromote); err != nil {
		t.Fatal(err)
	}
	e, d = next()
	if d.Action != sdk.Promote || d.Command != sdk.CommandPromote || d.Step != 2 || d.Weights["t:b"] != "100%" || e.Author != "alice" {
		t.Fatalf("promotion: %+v %+v", e, d)
	}
	// The promotion's revision is alice's, with her reason.
	h, err := st.History(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	last := h[len(h)-1]
	if last.Author != "alice" || last.Reason != "policy stepper: promote: promoted by hand (promote by alice: the canary looks fine)" || h[len(h)-2].Author != "" {
		t.Fatalf("history: %+v", h)
	}
}
