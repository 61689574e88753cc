package main

import (
	"github.com/spf13/cobra"
)

// newCompletionCommand replaces cobra's default completion command with
// one that takes the shell as an argument and fails with exit 2 on others.
func newCompletionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print a shell completion script to stdout, e.g.

  source <(turnout completion bash)
  turnout completion zsh > "${fpath[1]}/_turnout"
  turnout completion fish > ~/.config/fish/completions/turnout.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      usageArgs(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, root := cmd.OutOrStdout(), cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			default:
				return root.GenFishCompletion(out, true)
			}
		},
	}
	cmd.SetFlagErrorFunc(flagUsageError)
	return cmd
}
