package main

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/turnout/turnout/core/api"
	"github.com/turnout/turnout/plugins/builtin"
	"github.com/turnout/turnout/plugins/sdk"
)

// pluginInfo is one plugin as GET /api/v1/plugins shows it.
type pluginInfo = api.PluginInfo

func newPluginCommand() *cobra.Command {
	o := &gatewayOptions{}
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "List and describe the plugins of a running turnout",
		Long: `List and describe the plugins of a running turnout: built-in plugins and
third-party executables (turnout-plugin-KIND-NAME) found in its plugin
directory, with their versions, API versions, checksum status and state.

Exit codes: 0 ok, 1 refused by the server, 2 usage, 3 the server could not
be reached.`,
		Aliases: []string{"plugins"},
	}
	// describe may start a plugin and wait for it.
	addAPIFlags(cmd, o, 20*time.Second)
	cmd.AddCommand(newPluginListCommand(o), newPluginDescribeCommand(o), newPluginStartCommand())
	return cmd
}

func newPluginListCommand(o *gatewayOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the plugins with their kind, version, API versions, checksum status and state",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := o.do(cmd.Context(), request{method: "GET", path: "/plugins"})
			if err != nil {
				return err
			}
			if o.output != "table" {
				return printDoc(cmd.OutOrStdout(), o.output, resp.body)
			}
			var list []pluginInfo
			if err := jsonUnmarshal(resp.body, &list); err != nil {
				return fmt.Errorf("read the plugin list: %w", err)
			}
			return printPlugins(cmd.OutOrStdout(), list)
		},
	}
}

func newPluginDescribeCommand(o *gatewayOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "describe KIND/NAME",
		Short: "Describe one plugin, starting it if it never ran (e.g. backend/marathon)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name, ok := strings.Cut(args[0], "/")
			if !ok || name == "" || (kind != string(sdk.KindBackend) && kind != string(sdk.KindPolicy)) {
				return usageErrorf("plugin %q: want KIND/NAME with KIND backend or policy, e.g. backend/marathon", args[0])
			}
			resp, err := o.do(cmd.Context(), request{method: "GET", path: "/plugins/" + kind + "/" + url.PathEscape(name)})
			if err != nil {
				return err
			}
			if o.output != "table" {
				return printDoc(cmd.OutOrStdout(), o.output, resp.body)
			}
			var p pluginInfo
			if err := jsonUnmarshal(resp.body, &p); err != nil {
				return fmt.Errorf("read the plugin: %w", err)
			}
			return describePlugin(cmd.OutOrStdout(), p)
		},
	}
}

// newPluginStartCommand is how Turnout runs its built-in plugins as
// separate processes: it re-executes itself with `plugin start KIND NAME`.
func newPluginStartCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "start KIND NAME",
		Short:  "Serve a built-in plugin (run by turnout itself, not by people)",
		Hidden: true,
		Args:   usageArgs(cobra.ExactArgs(2)),
		RunE: func(_ *cobra.Command, args []string) error {
			p, ok := builtin.Lookup(sdk.Kind(args[0]), args[1])
			if !ok {
				return usageErrorf("no built-in %s plugin %q", args[0], args[1])
			}
			sdk.Serve(p.New())
			return nil
		},
	}
}

func printPlugins(w io.Writer, list []pluginInfo) error {
	rows := make([][]string, len(list))
	for i, p := range list {
		rows[i] = []string{p.Kind, p.Name, source(p), dash(p.Version), apiVersions(p.APIVersions), p.Checksum, p.State, strconv.Itoa(p.Restarts)}
	}
	return table(w, []string{"KIND", "NAME", "SOURCE", "VERSION", "API", "CHECKSUM", "STATE", "RESTARTS"}, rows)
}

func describePlugin(w io.Writer, p pluginInfo) error {
	rows := [][]string{
		{"Plugin:", p.Kind + "/" + p.Name},
		{"Source:", source(p)},
		{"Path:", p.Path},
		{"Version:", dash(p.Version)},
		{"API versions:", apiVersions(p.APIVersions)},
		{"Schemes:", dash(strings.Join(p.Schemes, ", "))},
		{"Description:", dash(p.Description)},
		{"Checksum:", p.Checksum},
		{"State:", p.State},
		{"Restarts:", strconv.Itoa(p.Restarts)},
	}
	if p.PID != 0 {
		rows = append(rows, []string{"PID:", strconv.Itoa(p.PID)})
	}
	if p.Error != "" {
		rows = append(rows, []string{"Last error:", p.Error})
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%-14s %s\n", r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

func source(p pluginInfo) string {
	if p.Builtin {
		return "built-in"
	}
	return "directory"
}

func apiVersions(v []int) string {
	if len(v) == 0 {
		return "-"
	}
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = "v" + strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
