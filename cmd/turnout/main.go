// Command turnout is the Turnout gateway: the agent that serves gateways,
// and (in later versions) the CLI that drives it.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "turnout:", err)
		os.Exit(exitCode(err))
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "turnout",
		Short:         "Canary releases and blue/green deployments for DC/OS services",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCommand(), newVersionCommand(), newGatewayCommand(), newConditionCommand(), newRouteCommand(), newPluginCommand(), newCompletionCommand())
	root.AddCommand(newCheckCommand(), newStoreCommand(), newClusterCommand(), newEventsCommand())
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "turnout", version)
		},
	}
}
