package main

import (
	"bytes"
	"context"
	"encoding/json"
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

// `turnout condition` and `turnout route`: Vamp's named conditions
// (/api/v1/conditions) and stored routes (/api/v1/routes), each mirroring
// `turnout gateway` list, get, apply and delete. A namedKind says what
// differs between the two.
type namedKind struct {
	use, noun, plural, short, long string
	aliases                        []string
	// decode checks a document before it is sent and returns its name and
	// the JSON the server stores for it.
	decode func(data []byte, source string) (name string, doc []byte, err error)
	// columns and row are the table output of a stored document.
	columns []string
	row     func(doc map[string]any) []string
}

var (
	conditionCLI = &namedKind{
		use: "condition", noun: "condition", plural: "conditions",
		short: "Manage the named conditions of a running turnout through its API",
		long: `Manage the named conditions (Vamp's /api/v1/conditions) of a running
turnout through its REST API. A route references one as
condition: {reference: NAME}; applying a changed condition gives every
gateway that references it a new revision with the new text, at once.`,
		aliases: []string{"conditions", "cond"},
		decode: func(data []byte, source string) (string, []byte, error) {
			c, err := gateway.DecodeCondition(data, source)
			if err != nil {
				return "", nil, err
			}
			doc, err := c.MarshalJSON()
			return c.Name, doc, err
		},
		columns: []string{"NAME", "CONDITION"},
		row:     func(doc map[string]any) []string { return []string{field(doc, "name"), field(doc, "condition")} },
	}
	routeCLI = &namedKind{
		use: "route", noun: "stored route", plural: "routes",
		short: "Manage the stored routes of a running turnout through its API",
		long: `Manage the stored routes (Vamp's /api/v1/routes) of a running turnout
through its REST API: route fields with a name (weight, condition,
condition_strength, rewrites, balance, ...) and no target. A gateway's
route takes them as "KEY: NAME" or "KEY: {reference: NAME}", its key saying
where requests go; applying a changed stored route gives every gateway
that references it a new revision with the new fields, at once.`,
		aliases: []string{"routes"},
		decode: func(data []byte, source string) (string, []byte, error) {
			r, err := gateway.DecodeRoute(data, source)
			if err != nil {
				return "", nil, err
			}
			doc, err := r.MarshalJSON()
			return r.Name, doc, err
		},
		columns: []string{"NAME", "WEIGHT", "CONDITION", "STRENGTH"},
		row: func(doc map[string]any) []string {
			cond := field(doc, "condition")
			if c, ok := doc["condition"].(map[string]any); ok {
				cond = "reference " + field(c, "reference")
			}
			return []string{field(doc, "name"), field(doc, "weight"), cond, field(doc, "condition_strength")}
		},
	}
)

// field is a document's string field, "-" when unset.
func field(doc map[string]any, name string) string {
	if s, ok := doc[name].(string); ok && s != "" {
		return s
	}
	return "-"
}

func newConditionCommand() *cobra.Command { return newNamedCommand(conditionCLI) }

func newRouteCommand() *cobra.Command { return newNamedCommand(routeCLI) }

func newNamedCommand(k *namedKind) *cobra.Command {
	o := &gatewayOptions{}
	cmd := &cobra.Command{
		Use:   k.use,
		Short: k.short,
		Long: k.long + `

Exit codes: 0 ok, 1 refused by the server, 2 usage (bad flags, arguments or
file; nothing was changed), 3 the server could not be reached.`,
		Aliases: k.aliases,
	}
	addAPIFlags(cmd, o, 10*time.Second)
	cmd.AddCommand(
		k.listCommand(o),
		k.getCommand(o),
		k.applyCommand(o),
		k.deleteCommand(o),
	)
	return cmd
}

func (k *namedKind) path(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/" + k.plural + "/" + strings.Join(parts, "/")
}

func (k *namedKind) print(w io.Writer, docs []map[string]any) error {
	rows := make([][]string, len(docs))
	for i, d := range docs {
		rows[i] = k.row(d)
	}
	return table(w, k.columns, rows)
}

func (k *namedKind) listCommand(o *gatewayOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the " + k.noun + "s",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			var all []map[string]any
			var raw []byte
			for page := 1; ; page++ {
				resp, err := c.do(cmd.Context(), request{method: "GET", path: "/" + k.plural + "?per_page=100&page=" + strconv.Itoa(page)})
				if err != nil {
					return err
				}
				var docs []map[string]any
				if err := jsonUnmarshal(resp.body, &docs); err != nil {
					return fmt.Errorf("server's %s list: %w", k.noun, err)
				}
				all = append(all, docs...)
				raw = resp.body
				total, _ := strconv.Atoi(resp.header.Get("X-Total-Count"))
				if len(docs) == 0 || len(all) >= total {
					break
				}
			}
			if o.output != "table" {
				if len(all) > 100 {
					return printValue(cmd.OutOrStdout(), o.output, all)
				}
				return printDoc(cmd.OutOrStdout(), o.output, raw)
			}
			return k.print(cmd.OutOrStdout(), all)
		},
	}
}

func (k *namedKind) getCommand(o *gatewayOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a " + k.noun,
		Long:  "Show a " + k.noun + "; -o json prints the server's document as is, -o yaml the same as YAML, ready to edit and apply.",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := o.do(cmd.Context(), request{method: "GET", path: k.path(args[0])})
			if err != nil {
				return err
			}
			if o.output != "table" {
				return printDoc(cmd.OutOrStdout(), o.output, resp.body)
			}
			var doc map[string]any
			if err := json.Unmarshal(resp.body, &doc); err != nil {
				return fmt.Errorf("server's %s: %w", k.noun, err)
			}
			return k.print(cmd.OutOrStdout(), []map[string]any{doc})
		},
	}
}

// namedResult is what apply and delete say.
type namedResult struct {
	kind     *namedKind
	Name     string
	Result   string // created, updated, unchanged, deleted
	Revision int64
}

func (r namedResult) String() string {
	s := r.kind.use + "/" + r.Name + " " + r.Result
	if r.Revision > 0 {
		s += fmt.Sprintf(" (revision %d)", r.Revision)
	}
	return s
}

func printNamedResult(w io.Writer, format string, r namedResult) error {
	if format != "table" {
		// The field is named after the kind, as `gateway apply` names its;
		// revision only when there is one, as before.
		v := map[string]any{r.kind.use: r.Name, "result": r.Result}
		if r.Revision > 0 {
			v["revision"] = r.Revision
		}
		return printValue(w, format, v)
	}
	_, err := fmt.Fprintln(w, r)
	return err
}

func (k *namedKind) applyCommand(o *gatewayOptions) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or replace a " + k.noun + "; an unchanged one is left alone",
		Long: `Create or replace the ` + k.noun + ` of a YAML or JSON file (-f - reads
stdin), in Vamp's form. Every gateway referencing it gets a new revision at
once. One line says what happened:

  ` + k.use + `/NAME created|updated|unchanged (revision N)

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
			name, want, err := k.decode(data, source)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			r, err := k.apply(cmd.Context(), c, name, want)
			if err != nil {
				return err
			}
			return printNamedResult(cmd.OutOrStdout(), o.output, r)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", k.noun+" file (YAML or JSON), - for stdin")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml", "json")
	return cmd
}

// apply makes the server's document equal want, as applyOne does for a
// gateway: created when absent, left alone when equal, else replaced with
// If-Match.
func (k *namedKind) apply(ctx context.Context, c *client, name string, want []byte) (namedResult, error) {
	res := namedResult{kind: k, Name: name}
	cur, err := c.do(ctx, request{method: "GET", path: k.path(name)})
	if statusOf(err) == 404 {
		resp, err := c.do(ctx, request{method: "POST", path: "/" + k.plural, body: want, contentType: mediaJSON})
		if err != nil {
			return namedResult{}, err
		}
		res.Result, res.Revision = "created", resp.revision()
		return res, nil
	}
	if err != nil {
		return namedResult{}, err
	}
	if bytes.Equal(bytes.TrimSpace(cur.body), want) {
		res.Result, res.Revision = "unchanged", cur.revision()
		return res, nil
	}
	resp, err := c.do(ctx, request{method: "PUT", path: k.path(name), body: want,
		contentType: mediaJSON, ifMatch: cur.header.Get("ETag")})
	if statusOf(err) == 412 {
		return namedResult{}, &exitError{code: exitRefused, err: fmt.Errorf("%s %s was changed by someone else while it was applied: retry", k.noun, name)}
	}
	if err != nil {
		return namedResult{}, err
	}
	res.Result, res.Revision = "updated", resp.revision()
	return res, nil
}

func (k *namedKind) deleteCommand(o *gatewayOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a " + k.noun + " (also succeeds when it does not exist; refused while something references it)",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := o.do(cmd.Context(), request{method: "DELETE", path: k.path(args[0])}); err != nil {
				return err
			}
			return printNamedResult(cmd.OutOrStdout(), o.output, namedResult{kind: k, Name: args[0], Result: "deleted"})
		},
	}
}
