package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/turnout/turnout/core/store"
	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/plugins/sdk"
)

// A rollout ended while paused is not paused any more, and a pause or
// resume that reaches the loop after the end (Command refuses them, but
// one can race with the ending decision, or come from another agent's
// API) does not reopen it: the phase stays, status --wait still ends.
func TestPauseAndResumeAfterTheEndDoNotReopenIt(t *testing.T) {
	for _, cmds := range [][]sdk.Command{
		{sdk.CommandPause},
		{sdk.CommandPause, sdk.CommandResume},
		{sdk.CommandResume},
	} {
		t.Run(fmt.Sprint(cmds), func(t *testing.T) {
			st := store.NewMemory()
			seed(t, st)
			r := startRunner(t, st, &ender{}, nil)
			ctx := context.Background()
			testnet.Eventually(t, 5*time.Second, "the first step", func() bool { return weights(t, st) == "90%/10%" })
			if err := r.Command(ctx, "shop", sdk.CommandPause); err != nil {
				t.Fatal(err)
			}
			testnet.Eventually(t, 5*time.Second, "paused", func() bool { return status(t, r).Paused })
			if err := r.Command(ctx, "shop", sdk.CommandPromote); err != nil {
				t.Fatal(err)
			}
			testnet.Eventually(t, 5*time.Second, "promoted", func() bool { return status(t, r).Phase == PhasePromoted })
			if s := status(t, r); s.Paused {
				t.Errorf("promoted while paused: still paused: %+v", s)
			}
			for _, cmd := range cmds {
				// What a race leaves: the command in the state, past Command.
				s, prev, err := r.load(ctx, "shop")
				if err != nil {
					t.Fatal(err)
				}
				s.Command = cmd
				doc, _ := json.Marshal(s)
				if _, err := st.Apply(ctx, []store.Change{{Kind: store.KindPolicy, Name: "shop", Doc: doc, Match: prev}}); err != nil {
					t.Fatal(err)
				}
				r.kick("shop")
				testnet.Eventually(t, 5*time.Second, string(cmd)+" taken", func() bool { return status(t, r).Command == sdk.CommandNone })
				if s := status(t, r); s.Phase != PhasePromoted || !s.Done || s.Paused || s.Declined == nil || s.Declined.Command != cmd {
					t.Fatalf("after a late %s: phase %s, done %v, paused %v, declined %+v", cmd, s.Phase, s.Done, s.Paused, s.Declined)
				}
			}
			if weights(t, st) != "0%/100%" {
				t.Errorf("weights moved: %s", weights(t, st))
			}
		})
	}
}
