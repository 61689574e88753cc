package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/turnout/turnout/core/gateway"
)

func newGatewayApplyCommand(o *gatewayOptions) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or replace the gateways of a file, all or none; unchanged ones are left alone",
		Long: `Create or replace the gateways of a YAML or JSON file (one gateway, a
list, or a multi-document stream; -f - reads stdin) in one change: all of
them or none, put in service together with one routing table swap. A gateway
that already equals the file's is left alone, so applying the same file again
changes nothing; gateways the file does not name are not touched. One line
per gateway says what happened:

  gateway/NAME created|updated|unchanged (revision N)

A file with an error is refused before anything is sent (exit 2); a file
the server refuses (a port in use, a route no plugin resolves) changes
nothing (exit 1).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageErrorf("apply needs -f FILE (or -f - for stdin)")
			}
			gws, err := readGatewayFile(file, cmd.InOrStdin())
			if err != nil {
				return err
			}
			for _, g := range gws {
				for _, w := range g.Warnings {
					fmt.Fprintf(cmd.ErrOrStderr(), "turnout: warning: gateway %s: %s\n", g.Name, w)
				}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			results, err := applyAll(cmd.Context(), c, gws)
			if err != nil {
				return err
			}
			if o.output != "table" {
				return printValue(cmd.OutOrStdout(), o.output, results)
			}
			for _, r := range results {
				fmt.Fprintln(cmd.OutOrStdout(), r)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "gateways file (YAML or JSON), - for stdin")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml", "json")
	return cmd
}

// readGatewayFile decodes and checks a file; its errors are usage errors
// with file:line:col.
func readGatewayFile(file string, stdin io.Reader) ([]*gateway.Gateway, error) {
	var data []byte
	var err error
	source := file
	if file == "-" {
		source = "stdin"
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	gws, err := gateway.Decode(data, source)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if len(gws) == 0 {
		return nil, usageErrorf("%s holds no gateway", source)
	}
	return gws, nil
}

// applyAll makes the server's gateways of these names equal gws, in one
// request (PUT /gateways), so the server commits and serves them together.
func applyAll(ctx context.Context, c *client, gws []*gateway.Gateway) ([]result, error) {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, g := range gws {
		doc, err := g.MarshalJSON()
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(doc)
	}
	b.WriteByte(']')
	resp, err := c.do(ctx, request{method: "PUT", path: "/gateways", body: b.Bytes(), contentType: mediaJSON})
	if err != nil {
		return nil, err
	}
	results := []result{} // [] rather than null
	if err := json.Unmarshal(resp.body, &results); err != nil {
		return nil, fmt.Errorf("read the server's answer to apply: %w", err)
	}
	return results, nil
}
