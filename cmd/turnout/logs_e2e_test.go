package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
)

// TestJSONLogsALogPipelineAccepts: with --log-format json every line the
// binary writes (its own, its plugins' through go-plugin, the access log)
// is one JSON object whose keys appear once (Elasticsearch rejects a line
// that repeats one), and no duration is a bare number of nanoseconds.
func TestJSONLogsALogPipelineAccepts(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	stable, canary := newBackend(t, "1.0.0"), newBackend(t, "1.1.0")
	port := testnet.FreePort(t)
	tt := start(t, canaryGateway(port, stable, canary, "  interval: 1h\n  steps: [10]\n"), "--log-format", "json", "--access-log")
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	tt.awaitStatus("shop", 10*time.Second, "the canary policy to run", func(st e2eStatus) bool { return st.Policy != nil })
	testnet.Eventually(t, 10*time.Second, "an access log line", func() bool { return strings.Contains(tt.logs.String(), `"msg":"request"`) })
	tt.stop() // the plugins exit: go-plugin logs their path and pid

	logs := tt.logs.String()
	if !strings.Contains(logs, "plugin_path") {
		t.Errorf("no plugin line with its path was logged:\n%s", logs)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		keys, err := jsonKeys(line)
		if err != nil {
			t.Errorf("not a JSON object: %v: %s", err, line)
			continue
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Errorf("key %q twice: %s", k, line)
			}
			seen[k] = true
		}
		for _, k := range []string{"drain_timeout", "duration", "interval", "timeout", "took"} {
			var m map[string]any
			json.Unmarshal([]byte(line), &m)
			if _, isNumber := m[k].(float64); isNumber {
				t.Errorf("%s is a number without a unit: %s", k, line)
			}
		}
	}
}

// jsonKeys is the top-level keys of a JSON object, in order, repeats kept.
func jsonKeys(line string) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(line)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("want an object, got %v (%v)", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
