package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/turnout/turnout/core/cluster"
	"github.com/turnout/turnout/core/ports"
	"github.com/turnout/turnout/internal/marathon"
)

// checkOptions are the flags of `turnout check ports`: Marathon's as
// `turnout serve` takes them (--marathon-url, --dcos-acs-token,
// --marathon-ca-cert and their environment), and the admin API's.
type checkOptions struct {
	marathon      pluginFlags
	marathonURLs  []string
	marathonToken string // --marathon-token, the old name of --dcos-acs-token
	addr, token   string
	tokenFile     string
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
turnout with --addr), Marathon-LB itself (9090, 9091, 80 and 443 unless it
runs with --dont-bind-http-https, any other port of its app, and its service
port range) and the apps Marathon-LB exposes (their HAPROXY_{n}_PORT labels
or service ports), read from Marathon. A port Marathon-LB binds for an app
inside the gateway range is a conflict too: Turnout would hand it to a
gateway.

With --addr, the gateway range and Marathon-LB's range are the running
turnout's (its --port-range and --marathon-lb-range, from GET
/api/v1/cluster) unless --gateway-range or --marathon-lb-range is given.
Marathon is reached as turnout serve reaches it: --marathon-url,
--dcos-acs-token (or a service account in
TURNOUT_DCOS_SERVICE_ACCOUNT_SECRET) and --marathon-ca-cert, with the same
environment variables; the admin API with --token or --token-file.

A running turnout checks the same all the time: a conflict that appears
while a gateway serves is logged (event=port_conflict), counted in
turnout_port_conflicts and named by /readyz, and the gateway keeps serving
(docs/operations.md, "Port conflicts with Marathon-LB").

Exit codes: 0 no conflict, 1 conflicts (or another failure), 2 usage, 3
Marathon or turnout could not be reached.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("gateway-range") {
				o.gatewayRange = ""
			}
			if !cmd.Flags().Changed("marathon-lb-range") {
				o.lbRange = ""
			}
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	cmd.SetFlagErrorFunc(flagUsageError)
	fl := cmd.Flags()
	fl.StringSliceVar(&o.marathonURLs, "marathon-url", nil, "Marathon's URL(s), comma-separated (or repeated) for several members [TURNOUT_MARATHON_URL; default "+marathon.DefaultURL+"]")
	fl.StringVar(&o.marathon.acsToken, "dcos-acs-token", "", "DC/OS ACS token for Marathon [TURNOUT_DCOS_ACS_TOKEN; or a service account in TURNOUT_DCOS_SERVICE_ACCOUNT_SECRET]")
	fl.StringVar(&o.marathonToken, "marathon-token", "", "the old name of --dcos-acs-token [DCOS_ACS_TOKEN]")
	_ = fl.MarkDeprecated("marathon-token", "use --dcos-acs-token")
	fl.StringVar(&o.marathon.marathonCA, "marathon-ca-cert", "", "PEM file of the CA to trust for an https --marathon-url, such as DC/OS's dcos-ca.crt [TURNOUT_MARATHON_CA_CERT]")
	fl.StringVar(&o.addr, "addr", "", "a running turnout's admin address, to check its gateways too (URL or host:port)")
	fl.StringVar(&o.token, "token", "", "turnout's API token [TURNOUT_TOKEN]")
	fl.StringVar(&o.tokenFile, "token-file", "", "read turnout's API token from this file (a DC/OS secret, say)")
	fl.StringVar(&o.caCert, "ca-cert", envOr("TURNOUT_CA_CERT", ""), "PEM file of the CA to trust for an https --addr [TURNOUT_CA_CERT]")
	fl.StringVarP(&o.output, "output", "o", "table", "output format: table, json or yaml")
	fl.StringVar(&o.gatewayRange, "gateway-range", "8000-9999", "the range Turnout assigns gateway ports from (with --addr: the running turnout's)")
	fl.StringVar(&o.lbRange, "marathon-lb-range", "10000-10100", "Marathon-LB's service port range (with --addr: the running turnout's)")
	fl.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for Marathon and turnout")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// marathonConfig is Marathon's configuration as serve builds it from the
// same flags and environment.
func (o *checkOptions) marathonConfig() (marathon.Config, error) {
	f := o.marathon
	f.marathonURL = strings.Join(o.marathonURLs, ",")
	if f.marathonURL == "" {
		f.marathonURL = cmp.Or(os.Getenv("TURNOUT_MARATHON_URL"), marathon.DefaultURL)
	}
	f.acsToken = cmp.Or(f.acsToken, os.Getenv("TURNOUT_DCOS_ACS_TOKEN"), o.marathonToken, os.Getenv("DCOS_ACS_TOKEN"))
	raw, err := pluginConfigs(f)
	if err != nil {
		return marathon.Config{}, err
	}
	c, err := marathon.ParseConfig(raw["marathon"])
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "configuration: ")
		if strings.HasPrefix(msg, "Marathon URL") {
			return marathon.Config{}, usageErrorf("--marathon-url: %s", msg)
		}
		return marathon.Config{}, usageErrorf("marathon: %s", msg)
	}
	return c, nil
}

// apiToken is turnout's token as serve reads it: --token-file, else
// --token, else TURNOUT_TOKEN.
func (o *checkOptions) apiToken() (string, error) {
	if o.tokenFile == "" {
		return cmp.Or(o.token, os.Getenv("TURNOUT_TOKEN")), nil
	}
	b, err := os.ReadFile(o.tokenFile)
	if err != nil {
		return "", usageErrorf("--token-file: %v", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", usageErrorf("--token-file %s: the file is empty", o.tokenFile)
	}
	return t, nil
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
	mcfg, err := o.marathonConfig()
	if err != nil {
		return err
	}
	mc, err := marathon.NewClient(mcfg)
	if err != nil {
		return usageErrorf("--marathon-url: %v", strings.TrimPrefix(err.Error(), "configuration: "))
	}
	ctx, cancel := context.WithTimeout(cmp.Or(ctx, context.Background()), o.timeout)
	defer cancel()

	var gws []ports.Gateway
	gatewayRange, lbRange := o.gatewayRange, o.lbRange
	if o.addr != "" {
		token, err := o.apiToken()
		if err != nil {
			return err
		}
		c, err := newClient(o.addr, token, o.caCert, o.timeout)
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
		if gatewayRange == "" || lbRange == "" {
			gr, lr, err := agentRanges(ctx, c)
			if err != nil {
				return err
			}
			gatewayRange, lbRange = cmp.Or(gatewayRange, gr), cmp.Or(lbRange, lr)
		}
	}
	gr, err := ports.ParseRange(cmp.Or(gatewayRange, "8000-9999"))
	if err != nil {
		return usageErrorf("--gateway-range: %v", err)
	}
	lr, err := ports.ParseRange(cmp.Or(lbRange, "10000-10100"))
	if err != nil {
		return usageErrorf("--marathon-lb-range: %v", err)
	}
	cfg := ports.Config{Gateways: gr, MarathonLB: lr}
	if err := cfg.Validate(); err != nil {
		return usageErrorf("%v", err)
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

// agentRanges are the gateway port range and Marathon-LB's range of the
// agent at c, from GET /api/v1/cluster ("" for an agent older than
// them). With several agents, their ranges must agree: they serve the
// same gateways.
func agentRanges(ctx context.Context, c *client) (gatewayRange, lbRange string, err error) {
	resp, err := c.do(ctx, request{method: "GET", path: "/cluster"})
	var ae *apiError
	if errors.As(err, &ae) && (ae.status == http.StatusNotFound || ae.status == http.StatusNotImplemented) {
		return "", "", nil // a turnout that does not say: the defaults
	}
	if err != nil {
		return "", "", err
	}
	var st cluster.Status
	if err := jsonUnmarshal(resp.body, &st); err != nil {
		return "", "", fmt.Errorf("read the cluster status: %w", err)
	}
	for _, a := range st.Agents {
		switch {
		case a.PortRange == "":
		case gatewayRange == "":
			gatewayRange, lbRange = a.PortRange, a.MarathonLBRange
		case a.PortRange != gatewayRange || a.MarathonLBRange != lbRange:
			return "", "", fmt.Errorf("the agents' ranges differ (%s has --port-range %s --marathon-lb-range %s, another %s and %s): give --gateway-range and --marathon-lb-range",
				a.ID, a.PortRange, a.MarathonLBRange, gatewayRange, lbRange)
		}
	}
	return gatewayRange, lbRange, nil
}
