// Package policy runs gateways' routing policies: for every gateway with a
// `policy:` section it asks the policy plugin what to do on the policy's
// interval, with the metrics the data plane collected over the window, and
// writes the decision to the store. The core stays in charge: a decision
// is clamped (never more than the configured step, never outside 0-100%),
// a failed or missing plugin holds the weights, and every applied decision
// is a gateway revision whose reason carries the figures behind it. The
// policy's state lives in the store, so a restart resumes a rollout where
// it was.
package policy
