package universe

import (
	"encoding/json"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The package's cpus option tells an operator how much CPU Turnout needs,
// with figures from docs/performance.md: they must be the committed run's.
func TestConfigFiguresMatchPerformanceDoc(t *testing.T) {
	data, err := os.ReadFile("packages/T/turnout/0/config.json")
	if err != nil {
		t.Fatal(err)
	}
	var config any
	if err := json.Unmarshal(data, &config); err != nil {
		t.Fatal(err)
	}
	var cited []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if d, ok := v["description"].(string); ok && strings.Contains(d, "docs/performance.md") {
				cited = append(cited, d)
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(config)
	if len(cited) != 1 {
		t.Fatalf("%d config.json descriptions cite docs/performance.md, this test knows one (cpus): %q", len(cited), cited)
	}
	m := regexp.MustCompile(`about (\d+) microseconds of CPU per proxied HTTP request on its event loops, (\d+) with --goroutine-http`).FindStringSubmatch(cited[0])
	if m == nil {
		t.Fatalf("the cpus description no longer states the CPU per request as this test reads it; change the test with it:\n%s", cited[0])
	}
	doc, err := os.ReadFile("../docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	for i, contender := range []string{"turnout-http", "turnout-goroutine-http"} {
		got, _ := strconv.Atoi(m[i+1])
		want := proxyCPU(t, string(doc), contender)
		if math.Round(want) != float64(got) {
			t.Errorf("config.json says %d µs of CPU per request for %s; docs/performance.md's run says %.1f", got, contender, want)
		}
	}
}

// proxyCPU is the contender's "proxy CPU µs/req" in the doc's first table
// that has the column and the contender.
func proxyCPU(t *testing.T, doc, contender string) float64 {
	t.Helper()
	col := -1
	for _, line := range strings.Split(doc, "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if !strings.HasPrefix(strings.TrimSpace(line), "|") {
			col = -1
			continue
		}
		if col < 0 {
			for i, c := range cells {
				if c == "proxy CPU µs/req" {
					col = i
				}
			}
			continue
		}
		if cells[0] == contender && col < len(cells) {
			v, err := strconv.ParseFloat(cells[col], 64)
			if err != nil {
				t.Fatalf("docs/performance.md: %s's proxy CPU %q: %v", contender, cells[col], err)
			}
			return v
		}
	}
	t.Fatalf("docs/performance.md has no table with %s's proxy CPU µs/req", contender)
	return 0
}
