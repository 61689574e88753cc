// Package jsonyaml writes a JSON document as YAML of the same structure.
//
// YAML-encoding Go values directly gives another document than their
// JSON: a json.RawMessage becomes a list of byte values, embedded structs
// become keys of their own, and json tags are ignored. Converting the JSON
// instead makes the two forms one structure by construction.
package jsonyaml

import (
	"bytes"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// FromJSON converts one JSON document to YAML with a two-space indent.
// Object keys keep their order (a gateway's routes are ordered), and every
// string stays a string: those a YAML reader would take for a number, a
// boolean, null or a timestamp are quoted.
func FromJSON(doc []byte) ([]byte, error) {
	var node yaml.Node
	if err := yaml.Unmarshal(doc, &node); err != nil {
		return nil, fmt.Errorf("json to yaml: %w", err)
	}
	if node.Kind == 0 {
		return nil, errors.New("json to yaml: empty document")
	}
	block(&node)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		return nil, fmt.Errorf("json to yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("json to yaml: %w", err)
	}
	return b.Bytes(), nil
}

// block drops the JSON's flow style and quotes, so that the encoder writes
// block style and quotes only what needs it: the nodes keep their tags,
// and a string that would read as another type is quoted.
func block(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && yaml11Bool[n.Value] {
		// YAML 1.2 reads these as strings, the encoder's own rule; YAML
		// 1.1 readers (PyYAML, older tools) as booleans.
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		block(c)
	}
}

var yaml11Bool = map[string]bool{}

func init() {
	for _, s := range []string{"y", "yes", "n", "no", "on", "off"} {
		for _, v := range []string{s, string(bytes.ToUpper([]byte(s[:1]))) + s[1:], string(bytes.ToUpper([]byte(s)))} {
			yaml11Bool[v] = true
		}
	}
}
