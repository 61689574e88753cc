package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// MarshalYAML writes Vamp's serialised form, routes in order, so that a
// GET's output can be PUT back.
func (g *Gateway) MarshalYAML() (any, error) {
	return g.node(), nil
}

// MarshalJSON writes the same document as MarshalYAML, in JSON. It is built
// from the same ordered node tree because encoding/json sorts map keys and
// route order matters (condition_strength tries routes in order).
func (g *Gateway) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, g.node()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// node is the gateway as an ordered YAML tree. Always written: name, port,
// sticky (null for none, as Vamp did), virtual_hosts and routes, each route
// with its weight; everything else only when set.
func (g *Gateway) node() *yaml.Node {
	m := mapping()
	add(m, "name", str(g.Name))
	add(m, "port", str(g.portText()))
	if g.Sticky == StickyNone {
		add(m, "sticky", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"})
	} else {
		add(m, "sticky", str(string(g.Sticky)))
	}
	hosts := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, h := range g.VirtualHosts {
		hosts.Content = append(hosts.Content, str(h))
	}
	if len(hosts.Content) == 0 {
		hosts.Style = yaml.FlowStyle
	}
	add(m, "virtual_hosts", hosts)
	routes := mapping()
	if len(g.Routes) == 0 {
		routes.Style = yaml.FlowStyle
	}
	for i := range g.Routes {
		add(routes, g.Routes[i].Name, g.refs.written(i, g.Routes[i].node()))
	}
	add(m, "routes", routes)
	if g.Policy != nil {
		if n, err := g.Policy.node(); err == nil {
			add(m, "policy", n)
		}
	}
	if len(g.Warnings) > 0 {
		list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, w := range g.Warnings {
			list.Content = append(list.Content, str(w.String()))
		}
		add(m, "warnings", list)
	}
	return m
}

// portText is the port as it was given when it still says the same port,
// else its serialised form.
func (g *Gateway) portText() string {
	if g.PortText != "" {
		if p, err := parsePort(g.PortText); err == nil && p == g.Port {
			return g.PortText
		}
	}
	return g.Port.String()
}

// String is Vamp's serialised form, "8080/http".
func (p Port) String() string {
	proto := p.Protocol
	if proto == "" {
		proto = HTTP
	}
	return strconv.Itoa(p.Number) + "/" + string(proto)
}

func (r *Route) node() *yaml.Node {
	m := mapping()
	if r.RouteRef != "" {
		// Vamp's reference, with the fields it resolved to.
		add(m, "reference", str(r.RouteRef))
	}
	if r.Selector != "" {
		add(m, "selector", str(r.Selector))
	}
	add(m, "weight", str(r.Weight.String()))
	switch {
	case r.ConditionRef != "":
		// Vamp's reference, with the text it resolved to.
		ref := mapping()
		add(ref, "reference", str(r.ConditionRef))
		if r.Condition != "" {
			add(ref, "condition", str(r.Condition))
		}
		add(m, "condition", ref)
	case r.Condition != "":
		add(m, "condition", str(r.Condition))
	}
	if r.Conditioned() || r.ConditionStrength != 0 {
		add(m, "condition_strength", str(r.ConditionStrength.String()))
	}
	if len(r.Rewrites) > 0 {
		list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, rw := range r.Rewrites {
			item := mapping()
			add(item, "path", str(rw.Path+" if "+rw.Condition))
			list.Content = append(list.Content, item)
		}
		add(m, "rewrites", list)
	}
	if r.Balance != "" && r.Balance != BalanceDefault {
		add(m, "balance", str(string(r.Balance)))
	}
	if r.Timeout > 0 {
		add(m, "timeout", str(r.Timeout.String()))
	}
	if r.Retries != nil {
		add(m, "retries", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(*r.Retries)})
	}
	if r.Mirror != nil {
		mm := mapping()
		add(mm, "route", str(r.Mirror.Route))
		add(mm, "share", str(r.Mirror.Share.String()))
		add(m, "mirror", mm)
	}
	if !r.RequireReady && r.Target.Plugin() {
		add(m, "require_ready", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"})
	}
	return m
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

// str is a string scalar; the !!str tag makes the encoder quote values that
// would otherwise read back as numbers or booleans.
func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func add(m *yaml.Node, key string, v *yaml.Node) { m.Content = append(m.Content, str(key), v) }

// writeJSON writes the trees node() builds: mappings, sequences, and
// string, int, float, bool and null scalars.
func writeJSON(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, n.Content[i].Value)
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, c); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			writeString(b, n.Value)
		case "!!int", "!!null", "!!bool", "!!float":
			b.WriteString(n.Value)
		default:
			return fmt.Errorf("cannot write a %s scalar as json", n.Tag)
		}
	default:
		return fmt.Errorf("cannot write yaml node kind %d as json", n.Kind)
	}
	return nil
}

// writeString writes a JSON string without encoding/json's HTML escaping,
// so conditions read as written ("&&", not "\u0026\u0026").
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Truncate(b.Len() - 1)
}
