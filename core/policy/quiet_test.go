package policy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/plugins/sdk"
)

// strengths is each route's condition strength as stored ("-" without a
// condition).
func strengths(t *testing.T, st store.Store) string {
	t.Helper()
	en, err := st.Get(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.DecodeOne(en.Doc, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range g.Routes {
		s := "-"
		if r.Condition != "" {
			s = r.ConditionStrength.String()
		}
		out = append(out, s)
	}
	return strings.Join(out, "/")
}

func seedConditions(t *testing.T, st store.Store, a, b string) {
	t.Helper()
	g, err := gateway.DecodeOne([]byte(strings.NewReplacer("a: {}", `"t:a": {weight: 100%`+a+`}`, "b: {}", `"t:b": {weight: 0%`+b+`}`).Replace(doc)), "")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := g.MarshalJSON()
	if _, err := st.Apply(context.Background(), []store.Change{{Name: "shop", Doc: body, Match: store.Absent}}); err != nil {
		t.Fatal(err)
	}
}

// The end of a rollout turns off the condition of the route it leaves at
// 0%, in the same revision, and a retry turns it back on.
func TestTheEndTurnsOffTheConditionOfTheRouteLeft(t *testing.T) {
	for _, tc := range []struct {
		name       string
		a, b       string
		cmd        sdk.Command
		wantWeight string
		wantStr    string
		note       string
	}{
		{"abort: the canary's condition", "", ", condition: has cookie beta, condition_strength: 50%", sdk.CommandAbort, "100%/0%", "-/0%", "t:b's condition off (strength 50% → 0%)"},
		{"promote: the old stable's condition", ", condition: has cookie old", ", condition: has cookie beta", sdk.CommandPromote, "0%/100%", "0%/100%", "t:a's condition off (strength 100% → 0%)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := store.NewMemory()
			seedConditions(t, st, tc.a, tc.b)
			before := strengths(t, st)
			r := startRunner(t, st, &ender{}, nil)
			ctx := context.Background()
			testnet.Eventually(t, 5*time.Second, "the first step", func() bool { return weights(t, st) == "90%/10%" })
			if got := strengths(t, st); got != before {
				t.Fatalf("a step changed the conditions: %s, was %s", got, before)
			}
			if err := r.Command(ctx, "shop", tc.cmd); err != nil {
				t.Fatal(err)
			}
			testnet.Eventually(t, 5*time.Second, "the end", func() bool { return weights(t, st) == tc.wantWeight })
			if got := strengths(t, st); got != tc.wantStr {
				t.Errorf("condition strengths after %s: %s, want %s", tc.cmd, got, tc.wantStr)
			}
			h, _ := st.History(ctx, "shop")
			if last := h[len(h)-1].Reason; !strings.HasSuffix(last, "; "+tc.note) {
				t.Errorf("the end's revision: %q, want it to end with %q", last, tc.note)
			}
			if tc.cmd != sdk.CommandAbort {
				return
			}
			if err := r.Command(ctx, "shop", CommandRetry); err != nil {
				t.Fatal(err)
			}
			testnet.Eventually(t, 5*time.Second, "the first step again", func() bool { return weights(t, st) == "90%/10%" })
			if got := strengths(t, st); got != before {
				t.Errorf("after the retry the strengths are %s, want %s back", got, before)
			}
		})
	}
}
