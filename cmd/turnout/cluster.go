package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/turnout/turnout/core/cluster"
)

func newClusterCommand() *cobra.Command {
	o := &gatewayOptions{}
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show the agents sharing a running turnout's store",
		Long: `Show the agents sharing a running turnout's store (ZooKeeper): their ids,
admin addresses, versions, which one leads (runs the routing policies) and
how many store versions each has still to apply. An agent on the embedded
store is alone, and leads.

An agent that has lost ZooKeeper answers with what it knows: itself, the
store version it serves, and since when it is stale.

Exit codes: 0 ok, 1 refused by the server, 2 usage, 3 the server could not
be reached.`,
	}
	addAPIFlags(cmd, o, 10*time.Second)
	cmd.AddCommand(newClusterStatusCommand(o))
	return cmd
}

func newClusterStatusCommand(o *gatewayOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "List the agents, their addresses and versions, the leader, and how far behind each is",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := o.do(cmd.Context(), request{method: "GET", path: "/cluster"})
			if err != nil {
				return err
			}
			if o.output != "table" {
				return printDoc(cmd.OutOrStdout(), o.output, resp.body)
			}
			var st cluster.Status
			if err := jsonUnmarshal(resp.body, &st); err != nil {
				return fmt.Errorf("read the cluster status: %w", err)
			}
			return printCluster(cmd.OutOrStdout(), st)
		},
	}
}

func printCluster(w io.Writer, st cluster.Status) error {
	leader := st.Leader
	if leader == "" {
		leader = "none (no agent holds a ZooKeeper session: policies hold their weights)"
	}
	fmt.Fprintf(w, "Store: %s at version %d\nLeader: %s\n", st.Store, st.StoreVersion, leader)
	if st.Stale && st.StaleSince != nil {
		fmt.Fprintf(w, "Stale: since %s: this agent has no ZooKeeper session; it serves the last state it read, refuses writes (503), and knows no other agent until it is back\n",
			st.StaleSince.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	rows := make([][]string, len(st.Agents))
	for i, a := range st.Agents {
		lead := "no"
		if a.Leader {
			lead = "yes"
		}
		rows[i] = []string{a.ID, dash(a.Admin), dash(a.Version), lead, strconv.FormatInt(a.Applied, 10), strconv.FormatInt(a.Behind, 10)}
	}
	return table(w, []string{"AGENT", "ADMIN", "VERSION", "LEADER", "APPLIED", "BEHIND"}, rows)
}
