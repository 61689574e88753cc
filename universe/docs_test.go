package universe

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/turnout/turnout/core/gateway"
)

// docs/install-dcos.md's walkthrough (install, upgrade, rollback,
// uninstall) uses only ports the package reserves on the agents, and its
// options and gateway files are ones the package and Turnout accept.
func TestInstallWalkthroughUsesReservedPorts(t *testing.T) {
	doc, err := os.ReadFile("../docs/install-dcos.md")
	if err != nil {
		t.Fatal(err)
	}
	const heading = "## Upgrade, rollback, uninstall: a walkthrough\n"
	_, walk, ok := strings.Cut(string(doc), heading)
	if !ok {
		t.Fatalf("docs/install-dcos.md has no %q", strings.TrimSpace(heading))
	}
	if i := strings.Index(walk, "\n## "); i >= 0 {
		walk = walk[:i]
	}
	heredoc := func(file string) string {
		t.Helper()
		_, rest, ok := strings.Cut(walk, "cat > "+file+" <<'EOF'\n")
		body, _, ok2 := strings.Cut(rest, "\nEOF\n")
		if !ok || !ok2 {
			t.Fatalf("the walkthrough does not write %s", file)
		}
		return body + "\n"
	}

	v, err := decodeJSON([]byte(heredoc("turnout-options.json")))
	if err != nil {
		t.Fatal(err)
	}
	_, app, err := renderOurs(t, v.(map[string]any))
	if err != nil {
		t.Fatalf("the walkthrough's options: %v", err)
	}
	checkApp(t, "the walkthrough's app", app, marathonLBPorts(t))
	reserved := map[int]bool{}
	for _, d := range app["portDefinitions"].([]any) {
		reserved[toInt(t, d.(map[string]any)["port"])] = true
	}

	g, err := gateway.DecodeOne([]byte(heredoc("gateway-20100.yaml")), "gateway-20100.yaml")
	if err != nil {
		t.Fatalf("the walkthrough's gateway: %v", err)
	}
	if !reserved[g.Port.Number] {
		t.Errorf("the walkthrough's gateway listens on %d, which the package does not reserve", g.Port.Number)
	}

	// Every port the walkthrough reaches on an agent.
	used := map[int]bool{}
	for _, m := range regexp.MustCompile(`(?:AGENT-IP|\$host|AGENT):([0-9]+)`).FindAllStringSubmatch(walk, -1) {
		p, _ := strconv.Atoi(m[1])
		used[p] = true
	}
	if len(used) < 2 {
		t.Fatalf("the walkthrough reaches the agents on %v: expected the admin and a gateway port", used)
	}
	for p := range used {
		if !reserved[p] {
			t.Errorf("the walkthrough uses port %d on the agents, which the package does not reserve", p)
		}
	}
}
