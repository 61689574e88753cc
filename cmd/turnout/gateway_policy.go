package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/turnout/turnout/core/api"
	"github.com/turnout/turnout/core/policy"
)

// newGatewayCommandCommand is `turnout gateway promote|pause|resume|abort|retry NAME`.
func newGatewayCommandCommand(o *gatewayOptions, command, short string) *cobra.Command {
	return &cobra.Command{
		Use:               command + " NAME",
		Short:             short,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeNames(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := o.do(cmd.Context(), request{method: "POST", path: gatewayPath(args[0], command)})
			if err != nil {
				return err
			}
			if o.output != "table" {
				return printDoc(cmd.OutOrStdout(), o.output, resp.body)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s requested\n", args[0], command)
			return nil
		},
	}
}

// gatewayStatus is GET /gateways/{name}/status with its policy typed.
type gatewayStatus struct {
	api.GatewayStatus
	Policy *policy.Status `json:"policy"`
	// raw is the server's document, which -o json and -o yaml print: it
	// may hold fields this build does not know.
	raw []byte
}

func newGatewayStatusCommand(o *gatewayOptions) *cobra.Command {
	var wait, watch bool
	var waitTimeout, every time.Duration
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show a gateway's routes in service and its policy's phase, weights and last checks",
		Long: `Show a gateway's routes in service (weights, readiness, why a route is held)
and its policy: phase, last decision with its checks, next decision.

With --wait, wait until the policy ends, so that a CI pipeline can gate on
it. Exit codes: 0 the new version was promoted; 1 it was rolled back,
aborted or failed (or the server refused: an unknown gateway, no policy);
4 --wait-timeout passed with the rollout still going; 3 the server could
not be reached when --wait-timeout passed. While waiting, connection
failures and 5xx answers (a turnout restarting) are retried with backoff
until --wait-timeout. While waiting, each decision is a line on stderr.

With --watch, follow the gateway until interrupted: on a terminal, a
compact view (routes, weights, requests per second, errors and p99 per
route, the policy's phase, step and last decision) redrawn every
--interval; otherwise (a pipe, a file) one line per event about the
gateway. Both reconnect after a failure (a turnout restarting).`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeNames(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if watch && wait {
				return usageErrorf("--watch and --wait: give one")
			}
			if watch {
				return watchStatus(cmd, o, args[0], every)
			}
			if !wait {
				st, err := getStatus(cmd.Context(), o, args[0])
				if err != nil {
					return err
				}
				return printStatus(cmd.OutOrStdout(), o.output, st)
			}
			return waitStatus(cmd, o, args[0], waitTimeout)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the policy promotes (exit 0) or rolls back (exit 1); see the exit codes above")
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the gateway until interrupted: a view redrawn on a terminal, one line per event otherwise")
	cmd.Flags().DurationVar(&every, "interval", 2*time.Second, "how often --watch redraws on a terminal")
	cmd.Flags().DurationVar(&waitTimeout, "wait-timeout", 0, "give up waiting after this long (exit 4; 3 if the server cannot be reached then); 0 waits forever")
	return cmd
}

// Polling of status --wait: every pollEvery while the server answers, with
// backoff up to maxBackoff while it does not.
const (
	pollEvery  = 500 * time.Millisecond
	maxBackoff = 4 * time.Second
)

// waitStatus polls a gateway's status until its policy ends or timeout
// passes. A turnout restarting (connection refused, 5xx) is waited for:
// a pipeline gating on a rollout must not fail because the agent was
// redeployed meanwhile.
func waitStatus(cmd *cobra.Command, o *gatewayOptions, name string, timeout time.Duration) error {
	ctx := cmd.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var last *gatewayStatus // the last answer
	var failing error       // the last poll's failure, nil if it was answered
	delay := pollEvery
	for {
		st, err := getStatus(ctx, o, name)
		switch {
		case err != nil && ctx.Err() != nil:
			// Cut by --wait-timeout: judged by the poll before.
		case err != nil && transient(err):
			if failing == nil {
				until := "until it answers"
				if timeout > 0 {
					until = "until --wait-timeout " + timeout.String()
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "turnout: %v; retrying %s\n", err, until)
			}
			failing = err
			delay = min(delay*2, maxBackoff)
		case err != nil:
			return err
		default:
			waitProgress(cmd.ErrOrStderr(), name, st, last)
			last, failing, delay = st, nil, pollEvery
			phase := ""
			if st.Policy != nil {
				phase = st.Policy.Phase
			}
			if policy.Terminal(phase) {
				if err := printStatus(cmd.OutOrStdout(), o.output, st); err != nil {
					return err
				}
				if phase != policy.PhasePromoted {
					return &exitError{code: exitRefused, err: fmt.Errorf("gateway %q: the rollout ended %s", name, phase)}
				}
				return nil
			}
			if st.Policy == nil {
				return &exitError{code: exitRefused, err: fmt.Errorf("gateway %q has no policy to wait for", name)}
			}
		}
		select {
		case <-ctx.Done():
			if last == nil && failing == nil {
				// The first poll itself got no answer in time.
				failing = fmt.Errorf("cannot reach turnout at %s: no answer", o.addr)
			}
			if failing != nil {
				return &exitError{code: exitUnreachable, err: fmt.Errorf("%w (still failing when --wait-timeout %s passed)", failing, timeout)}
			}
			_ = printStatus(cmd.OutOrStdout(), o.output, last)
			return &exitError{code: exitTimedOut, err: fmt.Errorf("gateway %q: still %s after --wait-timeout %s", name, last.Policy.Phase, timeout)}
		case <-time.After(delay):
		}
	}
}

// transient says whether a failed poll may succeed later: no answer, or a
// 5xx (a proxy before a restarting turnout, a store briefly unavailable).
func transient(err error) bool {
	var ee *exitError
	if errors.As(err, &ee) && ee.code == exitUnreachable {
		return true
	}
	return statusOf(err) >= 500
}

func getStatus(ctx context.Context, o *gatewayOptions, name string) (*gatewayStatus, error) {
	resp, err := o.do(ctx, request{method: "GET", path: gatewayPath(name, "status")})
	if err != nil {
		return nil, err
	}
	st := gatewayStatus{raw: resp.body}
	if err := jsonUnmarshal(resp.body, &st); err != nil {
		return nil, fmt.Errorf("read the status: %w", err)
	}
	return &st, nil
}

func printStatus(w io.Writer, format string, st *gatewayStatus) error {
	if format != "table" {
		return printDoc(w, format, st.raw)
	}
	fmt.Fprintf(w, "Gateway:  %s (revision %d)\n", st.Gateway, st.Revision)
	if p := st.Policy; p != nil {
		state := p.Phase
		if p.Paused {
			state += " (paused)"
		}
		fmt.Fprintf(w, "Policy:   %s every %s, %s, %d decisions\n", p.Type, p.Interval, state, p.Decisions)
		if !p.Next.IsZero() && !p.Done && !p.Paused {
			fmt.Fprintf(w, "Next:     %s\n", p.Next.UTC().Format(time.RFC3339))
		}
		if l := p.Last; l != nil {
			fmt.Fprintf(w, "Last:     %s at %s: %s\n", l.Action, l.Time.UTC().Format(time.RFC3339), l.Reason)
			if l.Error != "" {
				fmt.Fprintf(w, "Error:    %s\n", l.Error)
			}
			if l.Agents > 0 {
				fmt.Fprintf(w, "Traffic:  summed over %d agents\n", l.Agents)
			}
			for _, a := range l.Late {
				fmt.Fprintf(w, "Late:     %s: %s\n", a.Agent, a.Detail)
			}
			if len(l.Checks) > 0 {
				fmt.Fprintln(w, "Checks:")
				rows := make([][]string, len(l.Checks))
				for i, c := range l.Checks {
					result := "failed"
					if c.Passed {
						result = "passed"
					}
					rows[i] = []string{"  " + c.Name, dash(c.Route), fmt.Sprintf("%g", c.Value), fmt.Sprintf("%g", c.Limit), result, dash(c.Detail)}
				}
				if err := table(w, []string{"  CHECK", "ROUTE", "VALUE", "LIMIT", "RESULT", "DETAIL"}, rows); err != nil {
					return err
				}
			}
		}
	}
	fmt.Fprintln(w, "Routes:")
	rows := make([][]string, len(st.Routes))
	for i, r := range st.Routes {
		ready := "-"
		if r.Ready != nil {
			ready = map[bool]string{true: "yes", false: "no"}[*r.Ready]
			if r.Stale {
				ready += " (stale)"
			}
		}
		rows[i] = []string{"  " + r.Route, r.Weight, r.Effective, ready, dash(r.Held)}
	}
	return table(w, []string{"  ROUTE", "WEIGHT", "IN SERVICE", "READY", "HELD"}, rows)
}
