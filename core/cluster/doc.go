// Package cluster elects, among the agents sharing one ZooKeeper store, the
// one that runs routing policies, and lists the agents (turnout cluster
// status).
//
// The election is ZooKeeper's recipe: every agent creates an
// ephemeral-sequential znode under PATH/agents holding its Info; the one
// with the lowest sequence number leads; each other agent watches only its
// predecessor, so that a leader's death wakes one agent, not all. An agent
// without a ZooKeeper session does not lead, whatever its znode: during an
// outage no agent runs policies, and their weights hold.
//
// Windows lets the leader's policies decide on every agent's traffic: each
// agent publishes its cumulative per-route counters in an ephemeral znode of
// the election's session, PATH/windows/NODE, and the leader reads them all
// (policy.Counters), reporting the agents whose counters are late.
package cluster
