package main

import (
	"bytes"
	"context"
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
		Short: "Create or replace the gateways of a file; unchanged ones are left alone",
		Long: `Create or replace the gateways of a YAML or JSON file (one gateway, a
list, or a multi-document stream; -f - reads stdin), one at a time in file
order. A gateway that already equals the file's is left alone, so applying
the same file again changes nothing. One line per gateway says what happened:

  gateway/NAME created|updated|unchanged (revision N)

A file with an error is refused before anything is sent (exit 2).`,
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
			results := []result{} // [] rather than null for an empty file
			for _, g := range gws {
				r, err := applyOne(cmd.Context(), c, g)
				if err != nil {
					// What was done so far stays done; say so before failing.
					if len(results) > 0 && o.output == "table" {
						fmt.Fprintf(cmd.ErrOrStderr(), "turnout: applied %d of %d gateways before gateway %s failed\n", len(results), len(gws), g.Name)
					}
					return err
				}
				results = append(results, r)
				if o.output == "table" {
					fmt.Fprintln(cmd.OutOrStdout(), r)
				}
			}
			if o.output != "table" {
				return printValue(cmd.OutOrStdout(), o.output, results)
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

// applyOne makes the server's gateway equal g: created when absent, left
// alone when equal in canonical form, else replaced with If-Match so that
// a concurrent change is not overwritten unseen.
func applyOne(ctx context.Context, c *client, g *gateway.Gateway) (result, error) {
	want, err := g.MarshalJSON()
	if err != nil {
		return result{}, err
	}
	cur, err := c.do(ctx, request{method: "GET", path: gatewayPath(g.Name)})
	if statusOf(err) == 404 {
		// POST rather than PUT: it refuses a gateway created meanwhile.
		resp, err := c.do(ctx, request{method: "POST", path: "/gateways", body: want, contentType: mediaJSON})
		if err != nil {
			return result{}, err
		}
		return result{Gateway: g.Name, Result: "created", Revision: resp.revision()}, nil
	}
	if err != nil {
		return result{}, err
	}
	have, err := gateway.DecodeOne(cur.body, "")
	if err != nil {
		return result{}, fmt.Errorf("server's gateway %s: %w", g.Name, err)
	}
	if len(g.ConditionRefs()) > 0 {
		// The server stores a reference with the text it resolved to:
		// compare with the texts it holds, or a file with references would
		// never read as unchanged. A reference the server does not know
		// stays unresolved, and the PUT says so.
		texts := map[string]string{}
		for _, r := range have.Routes {
			if r.ConditionRef != "" {
				texts[r.ConditionRef] = r.Condition
			}
		}
		_, _ = g.ResolveConditions(func(n string) (string, bool) { s, ok := texts[n]; return s, ok })
		if want, err = g.MarshalJSON(); err != nil {
			return result{}, err
		}
	}
	haveJSON, err := have.MarshalJSON()
	if err != nil {
		return result{}, err
	}
	if bytes.Equal(haveJSON, want) {
		return result{Gateway: g.Name, Result: "unchanged", Revision: cur.revision()}, nil
	}
	resp, err := c.do(ctx, request{method: "PUT", path: gatewayPath(g.Name), body: want,
		contentType: mediaJSON, ifMatch: cur.header.Get("ETag")})
	if statusOf(err) == 412 {
		return result{}, &exitError{code: exitRefused, err: fmt.Errorf("gateway %s was changed by someone else while it was applied: retry", g.Name)}
	}
	if err != nil {
		return result{}, err
	}
	return result{Gateway: g.Name, Result: "updated", Revision: resp.revision()}, nil
}
