package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/internal/jsonyaml"
)

// table writes aligned columns, two spaces apart, as kubectl does.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sticky(g *gateway.Gateway) string { return dash(string(g.Sticky)) }

// printGateways is list's output: a table, or the gateways in the server's
// own JSON form (or that as YAML).
func printGateways(w io.Writer, format string, gws []*gateway.Gateway) error {
	if format != "table" {
		// By hand, as the server does: encoding/json would HTML-escape
		// conditions and lose route order.
		var b bytes.Buffer
		b.WriteByte('[')
		for i, g := range gws {
			if i > 0 {
				b.WriteByte(',')
			}
			j, err := g.MarshalJSON()
			if err != nil {
				return err
			}
			b.Write(j)
		}
		b.WriteByte(']')
		return printDoc(w, format, b.Bytes())
	}
	rows := make([][]string, len(gws))
	for i, g := range gws {
		rows[i] = []string{g.Name, g.Port.String(), strconv.Itoa(len(g.Routes)), sticky(g)}
	}
	return table(w, []string{"NAME", "PORT", "ROUTES", "STICKY"}, rows)
}

// printGatewayResponse prints an answer holding one gateway: the server's
// document for json and yaml, else described.
func printGatewayResponse(w io.Writer, format string, resp *response) error {
	if format != "table" {
		return printDoc(w, format, resp.body)
	}
	g, err := gateway.DecodeOne(resp.body, "")
	if err != nil {
		return fmt.Errorf("server's gateway: %w", err)
	}
	return describeGateway(w, g, resp.revision())
}

// describeGateway is one header line and the routes in Vamp's describe
// columns (ROUTE WEIGHT CONDITION STRENGTH).
func describeGateway(w io.Writer, g *gateway.Gateway, revision int64) error {
	head := fmt.Sprintf("gateway/%s  port %s  sticky %s", g.Name, g.Port.String(), sticky(g))
	if len(g.VirtualHosts) > 0 {
		head += "  virtual_hosts " + strings.Join(g.VirtualHosts, ",")
	}
	if revision > 0 {
		head += "  revision " + strconv.FormatInt(revision, 10)
	}
	fmt.Fprintln(w, head)
	rows := make([][]string, len(g.Routes))
	for i, r := range g.Routes {
		strength := "-"
		if r.Conditioned() {
			strength = r.ConditionStrength.String()
		}
		cond := dash(r.Condition)
		if r.ConditionRef != "" {
			// A named condition: its name, then the text in service.
			cond = fmt.Sprintf("%s: %s", r.ConditionRef, cond)
		}
		name := r.Name
		if r.RouteRef != "" {
			// A stored route: its name beside the key.
			name = fmt.Sprintf("%s (route %s)", r.Name, r.RouteRef)
		}
		rows[i] = []string{name, r.Weight.String(), cond, strength}
	}
	return table(w, []string{"ROUTE", "WEIGHT", "CONDITION", "STRENGTH"}, rows)
}

func printHistory(w io.Writer, revs []revisionInfo) error {
	rows := make([][]string, len(revs))
	for i, r := range revs {
		deleted := "no"
		if r.Deleted {
			deleted = "yes"
		}
		rows[i] = []string{strconv.FormatInt(r.Revision, 10), r.Time, deleted, dash(r.Author), dash(r.Reason)}
	}
	return table(w, []string{"REVISION", "TIME", "DELETED", "AUTHOR", "REASON"}, rows)
}

// result is what a change did to one gateway, for apply and delete.
type result struct {
	Gateway  string `json:"gateway" yaml:"gateway"`
	Result   string `json:"result" yaml:"result"` // created, updated, unchanged, deleted
	Revision int64  `json:"revision,omitempty" yaml:"revision,omitempty"`
}

func (r result) String() string {
	s := "gateway/" + r.Gateway + " " + r.Result
	if r.Revision > 0 {
		s += fmt.Sprintf(" (revision %d)", r.Revision)
	}
	return s
}

// printResult prints one result: a line for people, an object for scripts.
func printResult(w io.Writer, format string, r result) error {
	if format != "table" {
		return printValue(w, format, r)
	}
	_, err := fmt.Fprintln(w, r)
	return err
}

// printValue prints v for -o json or -o yaml (see printDoc).
func printValue(w io.Writer, format string, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return printDoc(w, format, b.Bytes())
}

// printDoc is every -o json and -o yaml output: a JSON document as is, or
// converted to YAML. YAML is never encoded from Go values, whose YAML
// differs from their JSON (a json.RawMessage becomes a list of bytes,
// embedded structs and tags differ): both forms have one structure.
func printDoc(w io.Writer, format string, doc []byte) error {
	if format == "yaml" {
		y, err := jsonyaml.FromJSON(doc)
		if err != nil {
			return fmt.Errorf("write yaml: %w", err)
		}
		_, err = w.Write(y)
		return err
	}
	doc = bytes.TrimRight(doc, "\n")
	_, err := w.Write(append(doc[:len(doc):len(doc)], '\n'))
	return err
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
