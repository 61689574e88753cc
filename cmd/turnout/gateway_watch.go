package main

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/turnout/turnout/core/api"
	"github.com/turnout/turnout/core/events"
)

// clearScreen moves the cursor home and clears the screen: a redraw.
const clearScreen = "\x1b[H\x1b[2J"

// isTerminal says whether w is a terminal (a character device; /dev/null
// is one too, which costs a redraw nobody sees).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// watchStatus is status --watch until interrupted: on a terminal, a
// compact view redrawn every interval; otherwise one line per event about
// the gateway, which a log or a CI job keeps (-o json: the events' JSON).
func watchStatus(cmd *cobra.Command, o *gatewayOptions, name string, every time.Duration) error {
	out := cmd.OutOrStdout()
	if !isTerminal(out) {
		c, err := o.client()
		if err != nil {
			return err
		}
		f := &follower{c: c, query: url.Values{"gateway": {name}}, warn: cmd.ErrOrStderr()}
		return f.run(cmd.Context(), func(m events.Message, e events.Event) error {
			if o.output != "table" {
				return printDoc(out, o.output, m.Data)
			}
			_, err := io.WriteString(out, eventLine(e)+"\n")
			return err
		})
	}
	ctx := cmd.Context()
	var prev *gatewayStatus
	var prevAt time.Time
	for {
		st, err := getStatus(ctx, o, name)
		now := time.Now()
		var view bytes.Buffer
		switch {
		case err != nil && !transient(err):
			return err
		case err != nil:
			// A turnout restarting: say so, keep the last view's shape.
			fmt.Fprintf(&view, "%s  %v; retrying\n", now.UTC().Format(time.TimeOnly), err)
		default:
			renderWatch(&view, st, prev, now.Sub(prevAt), now)
			prev, prevAt = st, now
		}
		if _, err := io.WriteString(out, clearScreen+view.String()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// renderWatch writes the compact view: the gateway, its policy's phase,
// step and last decision, and per route the weights and the traffic since
// the reading before (prev, elapsed ago): requests per second, errors and
// p99 latency.
func renderWatch(w io.Writer, st, prev *gatewayStatus, elapsed time.Duration, now time.Time) {
	fmt.Fprintf(w, "%s  revision %d  %s\n", st.Gateway, st.Revision, now.UTC().Format(time.TimeOnly))
	if p := st.Policy; p != nil {
		state := p.Phase
		if p.Paused {
			state += " (paused)"
		}
		fmt.Fprintf(w, "policy %s  %s  step %d\n", p.Type, state, p.Decisions)
		if l := p.Last; l != nil {
			fmt.Fprintf(w, "last   %s at %s: %s\n", l.Action, l.Time.UTC().Format(time.TimeOnly), l.Reason)
		}
	}
	before := map[string]*api.Traffic{}
	if prev != nil {
		for _, r := range prev.Routes {
			before[r.Route] = r.Traffic
		}
	}
	rows := make([][]string, len(st.Routes))
	for i, r := range st.Routes {
		rps, errs, p99 := "-", "-", "-"
		if b, t := before[r.Route], r.Traffic; b != nil && t != nil && elapsed > 0 && t.Requests >= b.Requests {
			n := t.Requests - b.Requests
			rps = strconv.FormatFloat(float64(n)/elapsed.Seconds(), 'f', 1, 64)
			if n > 0 {
				errs = strconv.FormatFloat(100*float64(t.Errors-b.Errors)/float64(n), 'f', 1, 64) + "%"
				p99 = t.Totals().Sub(b.Totals()).Quantile(0.99).String()
			}
		}
		rows[i] = []string{r.Route, r.Weight, r.Effective, rps, errs, p99, dash(r.Held)}
	}
	_ = table(w, []string{"ROUTE", "WEIGHT", "IN SERVICE", "RPS", "ERRORS", "P99", "HELD"}, rows)
}

// waitProgress prints a line when the rollout moved since last: a
// decision made, the phase changed.
func waitProgress(w io.Writer, name string, st, last *gatewayStatus) {
	p := st.Policy
	if p == nil {
		return
	}
	if last != nil && last.Policy != nil && last.Policy.Decisions == p.Decisions && last.Policy.Phase == p.Phase {
		return
	}
	line := fmt.Sprintf("%s  %s  %s  step %d", time.Now().UTC().Format(time.RFC3339), name, p.Phase, p.Decisions)
	if l := p.Last; l != nil {
		line += fmt.Sprintf("  %s: %s", l.Action, l.Reason)
	}
	fmt.Fprintln(w, line)
}
