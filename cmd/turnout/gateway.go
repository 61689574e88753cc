package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/turnout/turnout/core/gateway"
)

// Exit codes a pipeline can trust.
const (
	exitOK          = 0
	exitRefused     = 1 // the server refused (4xx/5xx), or any other failure
	exitUsage       = 2 // bad flags, arguments or file: nothing was sent
	exitUnreachable = 3 // no answer from the server
	exitTimedOut    = 4 // status --wait: --wait-timeout passed with the rollout still going
)

// exitError carries the exit code of a failure up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// cobraUsage are the starts of cobra's and pflag's own usage errors, for
// commands (root, serve) whose errors are not typed.
var cobraUsage = []string{
	"unknown command ", "unknown flag: ", "unknown shorthand flag: ", "flag needs an argument",
	"invalid argument ", "bad flag syntax", "accepts ", "requires at least ", "requires at most ",
}

// exitCode is main's exit status for err: typed errors say theirs, cobra's
// usage errors are 2, everything else (serve failing) 1.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	for _, p := range cobraUsage {
		if strings.HasPrefix(err.Error(), p) {
			return exitUsage
		}
	}
	return exitRefused
}

// usageArgs makes an argument validator's errors usage errors.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		return nil
	}
}

func flagUsageError(_ *cobra.Command, err error) error { return &exitError{code: exitUsage, err: err} }

// gatewayOptions are the persistent flags of `turnout gateway`.
type gatewayOptions struct {
	addr    string
	token   string
	caCert  string
	output  string
	timeout time.Duration
	reason  string
}

func (o *gatewayOptions) client() (*client, error) {
	// The token is read here rather than as the flag's default, which
	// --help would print.
	c, err := newClient(o.addr, cmp.Or(o.token, os.Getenv("TURNOUT_TOKEN")), o.caCert, o.timeout)
	if err != nil {
		return nil, err
	}
	c.reason = o.reason
	return c, nil
}

// do sends one request to the API (the commands that make a single call).
func (o *gatewayOptions) do(ctx context.Context, rq request) (*response, error) {
	c, err := o.client()
	if err != nil {
		return nil, err
	}
	return c.do(ctx, rq)
}

// addAPIFlags makes cmd a group of API commands: an unknown subcommand is
// a usage error, --output is checked, and the API's persistent flags.
func addAPIFlags(cmd *cobra.Command, o *gatewayOptions, timeout time.Duration) {
	// Without Args, cobra would print help and exit 0 for a mistyped
	// subcommand; a pipeline must see it fail.
	cmd.Args = usageArgs(func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return nil
	})
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		switch o.output {
		case "table", "json", "yaml":
			return nil
		}
		return usageErrorf("--output %q: want table, json or yaml", o.output)
	}
	cmd.SetFlagErrorFunc(flagUsageError)
	fl := cmd.PersistentFlags()
	fl.StringVar(&o.addr, "addr", envOr("TURNOUT_ADDR", "http://127.0.0.1:9880"), "address of turnout's admin listener, URL or host:port [TURNOUT_ADDR]")
	fl.StringVar(&o.token, "token", "", "API token, sent as a bearer token [TURNOUT_TOKEN]")
	fl.StringVar(&o.caCert, "ca-cert", envOr("TURNOUT_CA_CERT", ""), "PEM file of the CA (or self-signed certificate) to trust for an https --addr [TURNOUT_CA_CERT]")
	fl.StringVarP(&o.output, "output", "o", "table", "output format: table, json or yaml")
	fl.DurationVar(&o.timeout, "timeout", timeout, "how long to wait for each answer of the server")
	fl.StringVar(&o.reason, "reason", "", "why: kept with the revisions a change makes, shown in history and events (sent as X-Turnout-Reason)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
}

func newGatewayCommand() *cobra.Command {
	o := &gatewayOptions{}
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Manage the gateways of a running turnout through its API",
		Long: `Manage the gateways of a running turnout through its REST API.

Exit codes: 0 ok, 1 refused by the server (status --wait: the rollout was
rolled back), 2 usage (bad flags, arguments or file; nothing was changed),
3 the server could not be reached, 4 status --wait: --wait-timeout passed
with the rollout still going.`,
		Aliases: []string{"gateways", "gw"},
	}
	addAPIFlags(cmd, o, 10*time.Second)

	cmd.AddCommand(
		newGatewayListCommand(o),
		newGatewayGetCommand(o),
		newGatewayApplyCommand(o),
		newGatewayDeleteCommand(o),
		newGatewayHistoryCommand(o),
		newGatewayRollbackCommand(o),
		newGatewayUpdateCommand(o),
		newGatewayStatusCommand(o),
		newGatewayCommandCommand(o, "promote", "Promote the new version now, skipping the policy's remaining steps"),
		newGatewayCommandCommand(o, "pause", "Pause the gateway's policy: weights stay until resume"),
		newGatewayCommandCommand(o, "resume", "Resume a paused policy"),
		newGatewayCommandCommand(o, "abort", "Abort the rollout: all traffic back to the stable version at once (refused once it has nothing to do: after a canary's promotion, after a rollback)"),
		newGatewayCommandCommand(o, "retry", "Start a rolled-back rollout again from its first step, as a new revision (refused while it runs or after a promotion)"),
	)
	return cmd
}

// completeNames completes a gateway name argument from the server.
func completeNames(o *gatewayOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := o.client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		gws, err := listAll(cmd.Context(), c)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := make([]cobra.Completion, len(gws))
		for i, g := range gws {
			names[i] = g.Name
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func newGatewayListCommand(o *gatewayOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the gateways",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			gws, err := listAll(cmd.Context(), c)
			if err != nil {
				return err
			}
			return printGateways(cmd.OutOrStdout(), o.output, gws)
		},
	}
}

// listAll reads every page of GET /gateways.
func listAll(ctx context.Context, c *client) ([]*gateway.Gateway, error) {
	var all []*gateway.Gateway
	for page := 1; ; page++ {
		resp, err := c.do(ctx, request{method: "GET", path: "/gateways?per_page=100&page=" + strconv.Itoa(page)})
		if err != nil {
			return nil, err
		}
		gws, err := gateway.Decode(resp.body, "")
		if err != nil {
			return nil, fmt.Errorf("server's gateway list: %w", err)
		}
		all = append(all, gws...)
		total, _ := strconv.Atoi(resp.header.Get("X-Total-Count"))
		if len(gws) == 0 || len(all) >= total {
			return all, nil
		}
	}
}

func newGatewayGetCommand(o *gatewayOptions) *cobra.Command {
	return &cobra.Command{
		Use:               "get NAME",
		Aliases:           []string{"describe"},
		Short:             "Show a gateway and its routes",
		Long:              "Show a gateway and its routes; -o json prints the server's document as is, -o yaml the same as YAML, ready to edit and apply.",
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeNames(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := o.do(cmd.Context(), request{method: "GET", path: gatewayPath(args[0])})
			if err != nil {
				return err
			}
			return printGatewayResponse(cmd.OutOrStdout(), o.output, resp)
		},
	}
}

func newGatewayDeleteCommand(o *gatewayOptions) *cobra.Command {
	return &cobra.Command{
		Use:               "delete NAME",
		Aliases:           []string{"rm"},
		Short:             "Delete a gateway (also succeeds when it does not exist)",
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeNames(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := o.do(cmd.Context(), request{method: "DELETE", path: gatewayPath(args[0])}); err != nil {
				return err
			}
			return printResult(cmd.OutOrStdout(), o.output, result{Gateway: args[0], Result: "deleted"})
		},
	}
}

// revisionInfo is one line of GET /gateways/NAME/revisions.
type revisionInfo struct {
	Revision int64  `json:"revision"`
	Time     string `json:"time"`
	Deleted  bool   `json:"deleted"`
	Reason   string `json:"reason,omitempty"`
	Author   string `json:"author,omitempty"`
}

func newGatewayHistoryCommand(o *gatewayOptions) *cobra.Command {
	return &cobra.Command{
		Use:               "history NAME",
		Short:             "List the kept revisions of a gateway",
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeNames(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := o.do(cmd.Context(), request{method: "GET", path: gatewayPath(args[0], "revisions")})
			if err != nil {
				return err
			}
			if o.output != "table" {
				return printDoc(cmd.OutOrStdout(), o.output, resp.body)
			}
			var revs []revisionInfo
			if err := jsonUnmarshal(resp.body, &revs); err != nil {
				return fmt.Errorf("server's history: %w", err)
			}
			return printHistory(cmd.OutOrStdout(), revs)
		},
	}
}

func newGatewayRollbackCommand(o *gatewayOptions) *cobra.Command {
	var to int64
	cmd := &cobra.Command{
		Use:               "rollback NAME --to N",
		Short:             "Make revision N of a gateway its newest revision",
		Long:              "Make revision N of a gateway its newest revision; history is never rewritten (see history).",
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeNames(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to < 1 {
				return usageErrorf("--to: give the revision to roll back to (see turnout gateway history %s)", args[0])
			}
			path := gatewayPath(args[0], "rollback") + "?to=" + url.QueryEscape(strconv.FormatInt(to, 10))
			resp, err := o.do(cmd.Context(), request{method: "POST", path: path})
			if err != nil {
				return err
			}
			if o.output == "table" {
				fmt.Fprintf(cmd.OutOrStdout(), "gateway/%s rolled back to revision %d\n", args[0], to)
			}
			return printGatewayResponse(cmd.OutOrStdout(), o.output, resp)
		},
	}
	cmd.Flags().Int64Var(&to, "to", 0, "the revision to roll back to")
	return cmd
}
