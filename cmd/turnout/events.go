package main

import (
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/turnout/turnout/core/events"
)

// newEventsCommand is `turnout events`: the event stream, one line each.
func newEventsCommand() *cobra.Command {
	o := &gatewayOptions{}
	var gateways, types []string
	var since string
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Tail what happens on a turnout: gateway changes, policy decisions, holds, endpoints, plugins, port conflicts",
		Long: `Tail the event stream of a running turnout (GET /api/v1/events), one line
per event (-o json: the event's JSON, one a line), until interrupted.

A lost connection (a turnout restarting) is retried with backoff and the
stream resumes after the last event seen, from the server's history.`,
	}
	addAPIFlags(cmd, o, 10*time.Second)
	// addAPIFlags makes a group of commands; this one runs itself.
	cmd.Args = usageArgs(cobra.NoArgs)
	_ = cmd.PersistentFlags().MarkHidden("reason") // it changes nothing
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := o.client()
		if err != nil {
			return err
		}
		q := url.Values{}
		for _, g := range gateways {
			q.Add("gateway", g)
		}
		for _, t := range types {
			q.Add("type", t)
		}
		f := &follower{c: c, query: q, lastID: since, warn: cmd.ErrOrStderr()}
		w := cmd.OutOrStdout()
		return f.run(cmd.Context(), func(m events.Message, e events.Event) error {
			if o.output != "table" {
				return printDoc(w, o.output, m.Data)
			}
			_, err := w.Write([]byte(eventLine(e) + "\n"))
			return err
		})
	}
	cmd.Flags().StringSliceVar(&gateways, "gateway", nil, "only events about these gateways (repeat or comma-separate)")
	cmd.Flags().StringSliceVar(&types, "type", nil, "only events of these types or categories: gateway, policy, route, endpoints, plugin, port, or a type such as policy.decision")
	cmd.Flags().StringVar(&since, "since", "", "start after this event id (0: every event the server keeps) instead of with the next one")
	return cmd
}
