package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/turnout/turnout/internal/fakemarathon"
	"github.com/turnout/turnout/internal/testnet"
)

// outputCase runs one command with -o json and with -o yaml. A command
// that changes something is run on one gateway for json and on its twin
// for yaml (NAME-a, NAME-b), whose name is then read as the first's.
type outputCase struct {
	path string   // the command, as cobra's CommandPath less "turnout "
	args []string // after the path; TWIN is twin+"a", then twin+"b"
	twin string
	// before waits for what the command needs (retry: the abort done).
	before func()
}

// TestYAMLOutputIsTheJSONOutput: every command that takes -o prints the
// same document with -o yaml as with -o json (decoded, deeply equal): no
// wrapper keys, no policy: null, no plugin state as a list of bytes, no
// time that reads as a timestamp rather than a string.
func TestYAMLOutputIsTheJSONOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	stable, canary := testnet.Backend(t, "1.0.0"), testnet.Backend(t, "1.1.0")
	policyGW := func(name string) string {
		return fmt.Sprintf(`name: %s
port: %d/http
routes:
  "[%s]":
    weight: 100%%
  "[%s]":
    weight: 0%%
    condition: user-agent == Firefox
policy:
  type: canary
  interval: 1h
  stable: "[%s]"
  canary: "[%s]"
  steps: [10, 50]
`, name, testnet.FreePort(t), stable, canary, stable, canary)
	}
	plain := fmt.Sprintf("name: plain\nport: %d/http\nroutes:\n  \"[%s]\":\n    weight: 50%%\n  \"[%s]\":\n    weight: 50%%\n", testnet.FreePort(t), stable, canary)
	docs := []string{plain, policyGW("shop")}
	for _, twin := range []string{"ctl-", "promote-", "abort-"} {
		docs = append(docs, policyGW(twin+"a"), policyGW(twin+"b"))
	}
	tt := start(t, strings.Join(docs, "---\n"))
	plainFile := filepath.Join(t.TempDir(), "plain.yaml")
	if err := os.WriteFile(plainFile, []byte(plain), 0o644); err != nil {
		t.Fatal(err)
	}
	// A named condition, applied once so that applying it again (as json,
	// then as yaml) answers the same.
	condFile := filepath.Join(t.TempDir(), "firefox.yaml")
	if err := os.WriteFile(condFile, []byte("name: firefox\ncondition: user-agent == Firefox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := tt.cli("condition", "apply", "-f", condFile); code != 0 {
		t.Fatalf("condition apply: exit %d\n%s", code, out)
	}
	routeFile := filepath.Join(t.TempDir(), "slow.yaml")
	if err := os.WriteFile(routeFile, []byte("name: slow\ntimeout: 9s\ncondition: user-agent == Firefox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := tt.cli("route", "apply", "-f", routeFile); code != 0 {
		t.Fatalf("route apply: exit %d\n%s", code, out)
	}
	fm := fakemarathon.New(t, fakemarathon.Options{})
	fm.Deploy(fakemarathon.MarathonLBSpec("/marathon-lb", "external", true))
	// The policies' first steps are taken before anything is compared.
	for _, name := range []string{"shop", "ctl-a", "ctl-b", "promote-a", "promote-b", "abort-a", "abort-b"} {
		tt.awaitStatus(name, 10*time.Second, name+"'s first step", func(st e2eStatus) bool {
			return st.Policy != nil && st.Policy.Decisions >= 1
		})
	}

	cases := []outputCase{
		{"gateway list", nil, "", nil},
		{"gateway get", []string{"plain"}, "", nil},
		{"gateway apply", []string{"-f", plainFile}, "", nil},
		{"gateway delete", []string{"no-such-gateway"}, "", nil},
		{"gateway history", []string{"plain"}, "", nil},
		{"gateway rollback", []string{"plain", "--to", "1"}, "", nil},
		{"gateway update", []string{"plain", "--weights", stable + "@50%," + canary + "@50%"}, "", nil},
		{"gateway status", []string{"shop"}, "", nil},
		{"gateway pause", []string{"TWIN"}, "ctl-", nil},
		{"gateway resume", []string{"TWIN"}, "ctl-", nil},
		{"gateway promote", []string{"TWIN"}, "promote-", nil},
		{"gateway abort", []string{"TWIN"}, "abort-", nil},
		{"gateway retry", []string{"TWIN"}, "abort-", func() {
			for _, name := range []string{"abort-a", "abort-b"} {
				tt.awaitStatus(name, 10*time.Second, name+" rolled back", func(st e2eStatus) bool { return st.Policy.Phase == "rolled-back" })
			}
		}},
		{"plugin list", nil, "", nil},
		{"cluster status", nil, "", nil},
		{"plugin describe", []string{"policy/canary"}, "", nil},
		{"check ports", []string{"--marathon-url", fm.URL()}, "", nil},
		{"condition list", nil, "", nil},
		{"condition get", []string{"firefox"}, "", nil},
		{"condition apply", []string{"-f", condFile}, "", nil},
		{"condition delete", []string{"no-such-condition"}, "", nil},
		{"route list", nil, "", nil},
		{"route get", []string{"slow"}, "", nil},
		{"route apply", []string{"-f", routeFile}, "", nil},
		{"route delete", []string{"no-such-route"}, "", nil},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.path] = true
		if c.before != nil {
			c.before()
		}
		t.Run(strings.ReplaceAll(c.path, " ", "_"), func(t *testing.T) {
			run := func(format, suffix string) string {
				args := append(strings.Fields(c.path), c.args...)
				for i, a := range args {
					if a == "TWIN" {
						args[i] = c.twin + suffix
					}
				}
				if !strings.HasPrefix(c.path, "check ") {
					args = append(args, "--addr", tt.admin)
				}
				var out, errb bytes.Buffer
				if code := runTurnout(t, nil, &out, &errb, append(args, "-o", format)...); code != 0 {
					t.Fatalf("turnout %s -o %s: exit %d\n%s%s", strings.Join(args, " "), format, code, out.String(), errb.String())
				}
				return out.String()
			}
			j, y := run("json", "a"), run("yaml", "b")
			if c.twin != "" {
				y = strings.ReplaceAll(y, c.twin+"b", c.twin+"a")
			}
			var fromJSON, fromYAML any
			if err := json.Unmarshal([]byte(j), &fromJSON); err != nil {
				t.Fatalf("-o json is not JSON: %v\n%s", err, j)
			}
			if err := yaml.Unmarshal([]byte(y), &fromYAML); err != nil {
				t.Fatalf("-o yaml is not YAML: %v\n%s", err, y)
			}
			if fromYAML = yamlAsJSON(fromYAML); !reflect.DeepEqual(fromJSON, fromYAML) {
				t.Errorf("-o yaml differs from -o json\n--- json\n%s--- yaml\n%s", j, y)
			}
		})
	}
	// Every command that takes -o is compared: a new one must join the list.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		path := strings.TrimPrefix(c.CommandPath(), "turnout ")
		if c.Runnable() && !c.HasSubCommands() && (c.Flags().Lookup("output") != nil || c.InheritedFlags().Lookup("output") != nil) && !covered[path] {
			t.Errorf("%q takes -o but its json and yaml are not compared here", path)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand())
}

// yamlAsJSON makes a value decoded from YAML read as encoding/json
// decodes: numbers float64. Anything else YAML has and JSON has not (a
// time.Time from an unquoted timestamp) stays, and then differs.
func yamlAsJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = yamlAsJSON(e)
		}
	case []any:
		for i, e := range v {
			v[i] = yamlAsJSON(e)
		}
	case int:
		return float64(v)
	case uint64:
		return float64(v)
	}
	return v
}
