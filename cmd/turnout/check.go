package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/turnout/turnout/core/ports"
	"github.com/turnout/turnout/internal/marathon"
)

// checkOptions are the flags of `turnout check ports`.
type checkOptions struct {
	marathonURLs  []string
	marathonToken string
	addr, token   string
	caCert        string
	output        string
	gatewayRange  string
	lbRange       string
	timeout       time.Duration
}

func newCheckCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the cluster Turnout runs in",
		Args: usageArgs(func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCheckPortsCommand())
	return cmd
}

func newCheckPortsCommand() *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "ports",
		Short: "List port conflicts between gateways, Marathon-LB and the apps it exposes",
		Long: `List every port with two owners: Turnout's gateways (read from a running
turnout with --addr), Marathon-LB (80 and 443 unless it runs with
--dont-bind-http-https, 9090, 9091 and its service port range) and the apps
Marathon-LB exposes (their HAPROXY_{n}_PORT labels or service ports), read
from Marathon. A port Marathon-LB binds for an app inside the gateway range is
a conflict too: Turnout would hand it to a gateway.

Exit codes: 0 no conflict, 1 conflicts (or another failure), 2 usage, 3
Marathon or turnout could not be reached.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), cmd.OutOrStdout()) },
	}
	cmd.SetFlagErrorFunc(flagUsageError)
	fl := cmd.Flags()
	fl.StringSliceVar(&o.marathonURLs, "marathon-url", []string{envOr("TURNOUT_MARATHON_URL", marathon.DefaultURL)},
		"Marathon's URL; repeat or separate with commas for several members [TURNOUT_MARATHON_URL]")
	fl.StringVar(&o.marathonToken, "marathon-token", "", "DC/OS ACS token for Marathon [DCOS_ACS_TOKEN]")
	fl.StringVar(&o.addr, "addr", "", "a running turnout's admin address, to check its gateways too (URL or host:port)")
	fl.StringVar(&o.token, "token", "", "turnout's API token [TURNOUT_TOKEN]")
	fl.StringVar(&o.caCert, "ca-cert", envOr("TURNOUT_CA_CERT", ""), "PEM file of the CA to trust for an https --addr [TURNOUT_CA_CERT]")
	fl.StringVarP(&o.output, "output", "o", "table", "output format: table, json or yaml")
	fl.StringVar(&o.gatewayRange, "gateway-range", "8000-9999", "the range Turnout assigns gateway ports from")
	fl.StringVar(&o.lbRange, "marathon-lb-range", "10000-10100", "Marathon-LB's service port range")
	fl.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for Marathon and turnout")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// portsReport is the -o json (and yaml) document.
type portsReport struct {
	Conflicts    []ports.Conflict `json:"conflicts"`
	GatewayRange string           `json:"gateway_range"`
	MarathonLBs  []lbReport       `json:"marathon_lbs"`
	Gateways     []ports.Gateway  `json:"gateways"`
	Apps         int              `json:"apps"`
}

type lbReport struct {
	App           string   `json:"app"`
	Groups        []string `json:"groups"`
	BindHTTPHTTPS bool     `json:"bind_http_https"`
	Ports         string   `json:"ports"`
}

func (o *checkOptions) run(ctx context.Context, out io.Writer) error {
	switch o.output {
	case "table", "json", "yaml":
	default:
		return usageErrorf("--output %q: want table, json or yaml", o.output)
	}
	gr, err := ports.ParseRange(o.gatewayRange)
	if err != nil {
		return usageErrorf("--gateway-range: %v", err)
	}
	lr, err := ports.ParseRange(o.lbRange)
	if err != nil {
		return usageErrorf("--marathon-lb-range: %v", err)
	}
	cfg := ports.Config{Gateways: gr, MarathonLB: lr}
	if err := cfg.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	var urls []string
	for _, u := range o.marathonURLs {
		urls = append(urls, strings.Split(u, ",")...)
	}
	mc, err := marathon.NewClient(marathon.Config{URLs: urls, ACSToken: cmp.Or(o.marathonToken, os.Getenv("DCOS_ACS_TOKEN"))})
	if err != nil {
		return usageErrorf("--marathon-url: %v", strings.TrimPrefix(err.Error(), "configuration: "))
	}
	ctx, cancel := context.WithTimeout(cmp.Or(ctx, context.Background()), o.timeout)
	defer cancel()

	var gws []ports.Gateway
	if o.addr != "" {
		c, err := newClient(o.addr, cmp.Or(o.token, os.Getenv("TURNOUT_TOKEN")), o.caCert, o.timeout)
		if err != nil {
			return err
		}
		list, err := listAll(ctx, c)
		if err != nil {
			return err
		}
		for _, g := range list {
			gws = append(gws, ports.Gateway{Name: g.Name, Port: g.Port.Number})
		}
	}
	m, err := mc.Fetch(ctx)
	if err != nil {
		if _, refused := err.(*marathon.StatusError); refused {
			return &exitError{code: exitRefused, err: err}
		}
		return &exitError{code: exitUnreachable, err: err}
	}
	tab := ports.NewTable(cfg, m)
	conflicts := tab.Check(gws)

	rep := portsReport{Conflicts: conflicts, GatewayRange: gr.String(), Gateways: gws, Apps: len(m.Apps)}
	if rep.Conflicts == nil {
		rep.Conflicts = []ports.Conflict{}
	}
	if rep.Gateways == nil {
		rep.Gateways = []ports.Gateway{}
	}
	rep.MarathonLBs = []lbReport{}
	for _, lb := range tab.LBs {
		bound := "9090, 9091, " + lr.String()
		if lb.BindHTTPHTTPS {
			bound = "80, 443, " + bound
		}
		rep.MarathonLBs = append(rep.MarathonLBs, lbReport{App: lb.App.ID, Groups: lb.Groups, BindHTTPHTTPS: lb.BindHTTPHTTPS, Ports: bound})
	}
	if o.output != "table" {
		if err := printValue(out, o.output, rep); err != nil {
			return err
		}
	} else if err := printPorts(out, rep); err != nil {
		return err
	}
	if n := len(conflicts); n > 0 {
		return &exitError{code: exitRefused, err: fmt.Errorf("%d port %s", n, plural(n, "conflict", "conflicts"))}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// printPorts is the table for people: one line per conflict with both
// owners, then what was checked.
func printPorts(w io.Writer, rep portsReport) error {
	if len(rep.Conflicts) > 0 {
		rows := make([][]string, len(rep.Conflicts))
		for i, c := range rep.Conflicts {
			rows[i] = []string{strconv.Itoa(c.Port), c.Owners[0].String(), c.Owners[1].String()}
		}
		if err := table(w, []string{"PORT", "OWNER", "CONFLICTS WITH"}, rows); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	for _, lb := range rep.MarathonLBs {
		fmt.Fprintf(w, "Marathon-LB %s (group %s) binds %s\n", lb.App, strings.Join(lb.Groups, ","), lb.Ports)
	}
	if len(rep.MarathonLBs) == 0 {
		fmt.Fprintln(w, "no Marathon-LB app in Marathon")
	}
	fmt.Fprintf(w, "checked %d %s (range %s) against %d Marathon %s: ", len(rep.Gateways), plural(len(rep.Gateways), "gateway", "gateways"),
		rep.GatewayRange, rep.Apps, plural(rep.Apps, "app", "apps"))
	switch n := len(rep.Conflicts); n {
	case 0:
		fmt.Fprintln(w, "no port conflicts")
	default:
		fmt.Fprintf(w, "%d port %s\n", n, plural(n, "conflict", "conflicts"))
	}
	return nil
}
