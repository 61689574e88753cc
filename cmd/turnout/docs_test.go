package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/turnout/turnout/core/gateway"
)

// Every YAML example in the README and docs/ is a gateway that Turnout
// accepts (CoreDNS's readme_test habit): docs that drift from the code fail
// here.
func TestDocExamplesAreValidGateways(t *testing.T) {
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md")
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```")
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.FindAllSubmatch(data, -1) {
			n++
			var err error
			if bytes.Contains(m[1], []byte("\nkind: routes\n")) {
				// A stored route (Vamp's kind), not a gateway.
				_, err = gateway.DecodeRoute(m[1], f)
			} else {
				_, err = gateway.Decode(m[1], f)
			}
			if err != nil {
				t.Errorf("%s: example does not decode: %v\n%s", f, err, m[1])
			}
		}
	}
	if n < 4 {
		t.Fatalf("found only %d YAML examples in the docs", n)
	}
}

// The built-in example is the README's, byte for byte.
func TestBuiltInExampleIsTheREADMEs(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile("(?s)```yaml\n" + regexp.QuoteMeta(string(defaultGateways)) + "```").Match(readme) {
		t.Fatalf("defaults/gateways.yaml is not the README's first example:\n%s", defaultGateways)
	}
}
