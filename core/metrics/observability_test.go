package metrics

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/turnout/turnout/internal/testnet"
)

const (
	alertRules = "../../docs/observability/alerts.yml"
	dashboard  = "../../docs/observability/grafana-dashboard.json"
)

// The alert rules and the Grafana dashboard in docs/observability name only
// metrics the binary exports (a renamed series would leave an alert that
// never fires), and promtool (Debian's prometheus package) accepts the
// rules.
func TestObservabilityFilesUseExportedMetrics(t *testing.T) {
	r := NewRegistry()
	r.StoreStaleness(func() (time.Time, bool) { return time.Time{}, false })
	exported := r.Names()

	var exprs []string
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr string
			}
		}
	}
	data, err := os.ReadFile(alertRules)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, rule := range g.Rules {
			exprs = append(exprs, rule.Expr)
		}
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct{ Query string }
		}
	}
	if data, err = os.ReadFile(dashboard); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Query)
	}
	if len(exprs) < 10 {
		t.Fatalf("read only %d expressions", len(exprs))
	}
	name := regexp.MustCompile(`turnout_[a-z0-9_]+`)
	for _, e := range exprs {
		for _, n := range name.FindAllString(e, -1) {
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, suffix); ok && slices.Contains(exported, b) {
					base = b
				}
			}
			if !slices.Contains(exported, base) {
				t.Errorf("%s names %s, which Turnout does not export", e, n)
			}
		}
	}

	promtool := testnet.Tool(t, "promtool", "apt-get install -y prometheus")
	if out, err := exec.Command(promtool, "check", "rules", alertRules).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}
