package cluster

import (
	"os"
	"strconv"
	"time"
)

// Info is what an agent says about itself, as JSON in its znode.
type Info struct {
	ID      string    `json:"id"`
	Admin   string    `json:"admin"` // its admin API's address
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	// Applied is the store version whose gateways the agent serves.
	Applied int64 `json:"applied_version"`
	// PortRange is where the agent assigns gateway ports (--port-range),
	// and MarathonLBRange Marathon-LB's service port range as it knows
	// it: `turnout check ports --addr` checks against them.
	PortRange       string `json:"port_range,omitempty"`
	MarathonLBRange string `json:"marathon_lb_range,omitempty"`
}

// Agent is one agent as cluster status lists it.
type Agent struct {
	Info
	Leader bool `json:"leader"`
	// Behind is how many store versions the agent has still to apply.
	Behind int64 `json:"behind"`
}

// Status is GET /api/v1/cluster.
type Status struct {
	Store        string  `json:"store"` // "zookeeper", "bolt" or "memory"
	StoreVersion int64   `json:"store_version"`
	Leader       string  `json:"leader"` // the leader's ID, "" when none leads
	Agents       []Agent `json:"agents"` // the leader first, then in election order
	// Stale is true while the agent answering has lost ZooKeeper (since
	// StaleSince): it serves the last state it read, and may be behind.
	Stale      bool       `json:"stale"`
	StaleSince *time.Time `json:"stale_since,omitempty"`
}

// DefaultID names this agent: its host and process, unique on a cluster.
func DefaultID() string {
	h, err := os.Hostname()
	if err != nil {
		h = "unknown"
	}
	return h + "-" + strconv.Itoa(os.Getpid())
}

// Single is the status of an agent alone on its store (bolt, or memory
// for --demo): it leads.
func Single(storeKind string, info Info, storeVersion int64) Status {
	return Status{Store: storeKind, StoreVersion: storeVersion, Leader: info.ID,
		Agents: []Agent{{Info: info, Leader: true, Behind: max(storeVersion-info.Applied, 0)}}}
}

// CutOff is the status of an agent that has lost ZooKeeper since the given
// time: it knows only itself, serving the last store version it read, and
// no agent leads as far as it can tell (an agent without a session does
// not; the others cannot be asked).
func CutOff(info Info, since time.Time) Status {
	since = since.UTC()
	return Status{Store: "zookeeper", StoreVersion: info.Applied, Agents: []Agent{{Info: info}},
		Stale: true, StaleSince: &since}
}
