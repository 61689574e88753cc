package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/turnout/turnout/core/gateway"
)

// quiet is the end of a rollout (a promotion, a rollback, an abort) for
// conditions: every route the end leaves at weight 0 also stops capturing
// requests by its condition (strength 0), so that nobody reaches it. The
// condition's text stays, and the strength it had is kept in st for a
// retry to restore. It returns the strengths to write (nil: none) and a
// note for the revision's reason.
func quiet(g *gateway.Gateway, weights map[string]gateway.Weight, st *State) (map[string]gateway.Weight, string) {
	var out map[string]gateway.Weight
	var notes []string
	for _, r := range g.Routes {
		w := r.Weight
		if nw, ok := weights[r.Name]; ok {
			w = nw
		}
		if w != 0 || r.Condition == "" || r.ConditionStrength == 0 {
			continue
		}
		if out == nil {
			out = map[string]gateway.Weight{}
		}
		out[r.Name] = 0
		if st.Strengths == nil {
			st.Strengths = map[string]gateway.Weight{}
		}
		if _, ok := st.Strengths[r.Name]; !ok {
			st.Strengths[r.Name] = r.ConditionStrength
		}
		notes = append(notes, fmt.Sprintf("%s's condition off (strength %s → 0%%)", r.Name, r.ConditionStrength))
	}
	sort.Strings(notes)
	return out, strings.Join(notes, ", ")
}

// restore gives back the condition strengths a rollout's end set to 0
// (a retry), on the routes that still have their condition. It reports
// whether it changed g, and a note for the revision's reason.
func restore(g *gateway.Gateway, st State) (bool, string) {
	var notes []string
	for i := range g.Routes {
		r := &g.Routes[i]
		s, ok := st.Strengths[r.Name]
		if !ok || r.Condition == "" || r.ConditionStrength == s {
			continue
		}
		r.ConditionStrength = s
		notes = append(notes, fmt.Sprintf("%s's condition back to strength %s", r.Name, s))
	}
	sort.Strings(notes)
	return len(notes) > 0, strings.Join(notes, ", ")
}
