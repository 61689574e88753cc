package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/plugins/sdk"
)

// Phases the core itself sets; plugins name the others.
const (
	PhaseStarting   = "starting"
	PhasePaused     = "paused"
	PhasePromoted   = "promoted"
	PhaseRolledBack = "rolled-back"
)

// State is a gateway's policy state document, kept in the store.
type State struct {
	// ConfigHash identifies the policy section the state belongs to: a
	// changed section starts a new rollout.
	ConfigHash string `json:"config_hash"`
	Type       string `json:"type"`
	Phase      string `json:"phase"`
	// Done is set after a promotion or rollback: the policy is asked again
	// only for an operator's command.
	Done   bool `json:"done,omitempty"`
	Paused bool `json:"paused,omitempty"`
	// Command waits for the next decision.
	Command sdk.Command `json:"command,omitempty"`
	// CommandBy and CommandWhy are who gave it and why: the revision the
	// decision on it makes carries them.
	CommandBy  string `json:"command_by,omitempty"`
	CommandWhy string `json:"command_why,omitempty"`
	// Plugin is the plugin's own state, given back at each decision.
	Plugin    json.RawMessage `json:"plugin_state,omitempty"`
	Last      *Decision       `json:"last,omitempty"`
	Next      time.Time       `json:"next,omitzero"`
	Decisions int             `json:"decisions"`
	// Errors counts decisions in a row that failed (the weights held).
	Errors int `json:"errors,omitempty"`
	// Ended is the action that ended the rollout (promote or rollback),
	// EndedRevision the gateway revision it wrote: what an operator's
	// command after the end is told.
	Ended         sdk.Action `json:"ended,omitempty"`
	EndedRevision int64      `json:"ended_revision,omitempty"`
	// Declined is the last command the policy declined after the rollout
	// ended (it held: nothing to do), for Command to report.
	Declined *Declined `json:"declined,omitempty"`
	// Retries counts the operator's retries of this policy section's
	// rollout; RetryNote goes into the reason of the first revision a
	// retried rollout writes.
	Retries   int    `json:"retries,omitempty"`
	RetryNote string `json:"retry_note,omitempty"`
	// Strengths are the condition strengths the rollout's end set to 0 on
	// the routes it moved everyone off, by route: a retry restores them.
	Strengths map[string]gateway.Weight `json:"condition_strengths,omitempty"`
}

// Declined is a command the policy answered with a hold after the end.
type Declined struct {
	Command sdk.Command `json:"command"`
	Reason  string      `json:"reason"`
	Time    time.Time   `json:"time"`
}

// Decision is the last decision, as shown by `turnout gateway status`.
type Decision struct {
	Time    time.Time         `json:"time"`
	Action  sdk.Action        `json:"action"`
	Reason  string            `json:"reason"`
	Weights map[string]string `json:"weights,omitempty"`
	Checks  []sdk.Check       `json:"checks,omitempty"`
	Error   string            `json:"error,omitempty"`
	// Agents is how many agents' traffic the window summed (a cluster),
	// Late the agents whose counters were late or missing: the decision
	// was made on the others'.
	Agents int         `json:"agents,omitempty"`
	Late   []LateAgent `json:"late_agents,omitempty"`
}

// Terminal says whether a phase ends a rollout.
func Terminal(phase string) bool {
	switch phase {
	case PhasePromoted, PhaseRolledBack, "aborted", "failed":
		return true
	}
	return false
}

// configHash tells a changed policy section (a new rollout) from the
// same one; who is notified is no part of it.
func configHash(p *gateway.Policy) string {
	sum := sha256.Sum256(p.PluginConfig())
	return hex.EncodeToString(sum[:8])
}
