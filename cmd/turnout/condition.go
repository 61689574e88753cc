package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/turnout/turnout/core/gateway"
)

// `turnout condition`: Vamp's named conditions (/api/v1/conditions),
// mirroring `turnout gateway` list, get, apply and delete.
func newConditionCommand() *cobra.Command {
	o := &gatewayOptions{}
	cmd := &cobra.Command{
		Use:   "condition",
		Short: "Manage the named conditions of a running turnout through its API",
		Long: `Manage the named conditions (Vamp's /api/v1/conditions) of a running
turnout through its REST API. A route references one as
condition: {reference: NAME}; applying a changed condition gives every
gateway that references it a new revision with the new text, at once.

Exit codes: 0 ok, 1 refused by the server, 2 usage (bad flags, arguments or
file; nothing was changed), 3 the server could not be reached.`,
		Aliases: []string{"conditions", "cond"},
	}
	addAPIFlags(cmd, o, 10*time.Second)
	cmd.AddCommand(
		newConditionListCommand(o),
		newConditionGetCommand(o),
		newConditionApplyCommand(o),
		newConditionDeleteCommand(o),
	)
	return cmd
}

func conditionPath(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/conditions/" + strings.Join(parts, "/")
}

// conditionDoc is a condition as the API writes it.
type conditionDoc struct {
	Name      string `json:"name"`
	Condition string `json:"condition"`
}

func printConditions(w io.Writer, conds []conditionDoc) error {
	rows := make([][]string, len(conds))
	for i, c := range conds {
		rows[i] = []string{c.Name, c.Condition}
	}
	return table(w, []string{"NAME", "CONDITION"}, rows)
}

func newConditionListCommand(o *gatewayOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the named conditions",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			var all []conditionDoc
			var raw []byte
			for page := 1; ; page++ {
				resp, err := c.do(cmd.Context(), request{method: "GET", path: "/conditions?per_page=100&page=" + strconv.Itoa(page)})
				if err != nil {
					return err
				}
				var conds []conditionDoc
				if err := jsonUnmarshal(resp.body, &conds); err != nil {
					return fmt.Errorf("server's condition list: %w", err)
				}
				all = append(all, conds...)
				raw = resp.body
				total, _ := strconv.Atoi(resp.header.Get("X-Total-Count"))
				if len(conds) == 0 || len(all) >= total {
					break
				}
			}
			if o.output != "table" {
				if len(all) > 100 {
					return printValue(cmd.OutOrStdout(), o.output, all)
				}
				return printDoc(cmd.OutOrStdout(), o.output, raw)
			}
			return printConditions(cmd.OutOrStdout(), all)
		},
	}
}

func newConditionGetCommand(o *gatewayOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a named condition",
		Long:  "Show a named condition; -o json prints the server's document as is, -o yaml the same as YAML, ready to edit and apply.",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := o.do(cmd.Context(), request{method: "GET", path: conditionPath(args[0])})
			if err != nil {
				return err
			}
			if o.output != "table" {
				return printDoc(cmd.OutOrStdout(), o.output, resp.body)
			}
			var c conditionDoc
			if err := jsonUnmarshal(resp.body, &c); err != nil {
				return fmt.Errorf("server's condition: %w", err)
			}
			return printConditions(cmd.OutOrStdout(), []conditionDoc{c})
		},
	}
}

// conditionResult is what apply and delete say.
type conditionResult struct {
	Condition string `json:"condition"`
	Result    string `json:"result"` // created, updated, unchanged, deleted
	Revision  int64  `json:"revision,omitempty"`
}

func (r conditionResult) String() string {
	s := "condition/" + r.Condition + " " + r.Result
	if r.Revision > 0 {
		s += fmt.Sprintf(" (revision %d)", r.Revision)
	}
	return s
}

func printConditionResult(w io.Writer, format string, r conditionResult) error {
	if format != "table" {
		return printValue(w, format, r)
	}
	_, err := fmt.Fprintln(w, r)
	return err
}

func newConditionApplyCommand(o *gatewayOptions) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or replace a named condition; an unchanged one is left alone",
		Long: `Create or replace the named condition of a YAML or JSON file
({name, condition}, or Vamp's {name, kind: conditions, metadata, condition};
-f - reads stdin). Every gateway referencing it gets a new revision with the
new text. One line says what happened:

  condition/NAME created|updated|unchanged (revision N)

A file with an error is refused before anything is sent (exit 2).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageErrorf("apply needs -f FILE (or -f - for stdin)")
			}
			var data []byte
			var err error
			source := file
			if file == "-" {
				source = "stdin"
				data, err = io.ReadAll(cmd.InOrStdin())
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return usageErrorf("%v", err)
			}
			nc, err := gateway.DecodeCondition(data, source)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			r, err := applyCondition(cmd.Context(), c, nc)
			if err != nil {
				return err
			}
			return printConditionResult(cmd.OutOrStdout(), o.output, r)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "condition file (YAML or JSON), - for stdin")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml", "json")
	return cmd
}

// applyCondition makes the server's condition equal nc, as applyOne does
// for a gateway: created when absent, left alone when equal, else replaced
// with If-Match.
func applyCondition(ctx context.Context, c *client, nc *gateway.NamedCondition) (conditionResult, error) {
	want, err := nc.MarshalJSON()
	if err != nil {
		return conditionResult{}, err
	}
	cur, err := c.do(ctx, request{method: "GET", path: conditionPath(nc.Name)})
	if statusOf(err) == 404 {
		resp, err := c.do(ctx, request{method: "POST", path: "/conditions", body: want, contentType: mediaJSON})
		if err != nil {
			return conditionResult{}, err
		}
		return conditionResult{Condition: nc.Name, Result: "created", Revision: resp.revision()}, nil
	}
	if err != nil {
		return conditionResult{}, err
	}
	if bytes.Equal(bytes.TrimSpace(cur.body), want) {
		return conditionResult{Condition: nc.Name, Result: "unchanged", Revision: cur.revision()}, nil
	}
	resp, err := c.do(ctx, request{method: "PUT", path: conditionPath(nc.Name), body: want,
		contentType: mediaJSON, ifMatch: cur.header.Get("ETag")})
	if statusOf(err) == 412 {
		return conditionResult{}, &exitError{code: exitRefused, err: fmt.Errorf("condition %s was changed by someone else while it was applied: retry", nc.Name)}
	}
	if err != nil {
		return conditionResult{}, err
	}
	return conditionResult{Condition: nc.Name, Result: "updated", Revision: resp.revision()}, nil
}

func newConditionDeleteCommand(o *gatewayOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a named condition (also succeeds when it does not exist; refused while routes reference it)",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := o.do(cmd.Context(), request{method: "DELETE", path: conditionPath(args[0])}); err != nil {
				return err
			}
			return printConditionResult(cmd.OutOrStdout(), o.output, conditionResult{Condition: args[0], Result: "deleted"})
		},
	}
}
