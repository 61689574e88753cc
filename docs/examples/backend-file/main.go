// Command turnout-plugin-backend-file is an example third-party backend
// plugin: a route target "file:/etc/turnout/shop.endpoints" resolves to the
// addresses listed in that file, one per line:
//
//	# comments and blank lines are skipped
//	10.0.0.7:8080
//	10.0.0.8:8080 unhealthy
//	not-ready: warming caches
//
// A "not-ready: REASON" line holds the route (require_ready) until it is
// removed. The file is read again every `poll` (configuration, default 1s).
//
// Build it, put it in Turnout's plugin directory with its SHA-256, and name
// it in a gateway: see docs/plugins.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/turnout/turnout/plugins/sdk"
)

func main() { sdk.Serve(&fileBackend{poll: time.Second}) }

type fileBackend struct {
	poll time.Duration
}

func (b *fileBackend) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:        "file",
		Kind:        sdk.KindBackend,
		Version:     "1.0.0",
		Schemes:     []string{"file"},
		Description: "endpoints listed in a file, one address per line",
	}, nil
}

func (b *fileBackend) Configure(_ context.Context, raw json.RawMessage) error {
	var c struct {
		Poll string `json:"poll"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("file: configuration: %w", err)
	}
	if c.Poll != "" {
		d, err := time.ParseDuration(c.Poll)
		if err != nil || d <= 0 {
			return fmt.Errorf("file: configuration: poll must be a positive duration, got %q", c.Poll)
		}
		b.poll = d
	}
	return nil
}

func (b *fileBackend) Watch(ctx context.Context, t sdk.Target) (<-chan sdk.Snapshot, error) {
	if !filepath.IsAbs(t.Ref) {
		return nil, fmt.Errorf("file: target %q: the reference must be an absolute path", t.String())
	}
	ch := make(chan sdk.Snapshot)
	go func() {
		defer close(ch)
		var last []byte
		var snap sdk.Snapshot
		first := true
		tick := time.NewTicker(b.poll)
		defer tick.Stop()
		for {
			data, err := os.ReadFile(t.Ref)
			changed := first || err != nil && snap.Error == "" || err == nil && (snap.Error != "" || !bytes.Equal(data, last))
			if changed {
				first = false
				snap.Revision++
				if err != nil {
					// Keep the last endpoints: the source is unreadable, not empty.
					snap.Error = fmt.Sprintf("file: %v", err)
				} else {
					last = data
					snap.Endpoints, snap.Ready, snap.Reason = parse(data)
					snap.Error = ""
				}
				select {
				case ch <- snap:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return ch, nil
}

// parse reads the endpoint file's lines.
func parse(data []byte) (eps []sdk.Endpoint, ready bool, reason string) {
	ready = true
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "not-ready:"):
			ready, reason = false, strings.TrimSpace(strings.TrimPrefix(line, "not-ready:"))
		default:
			f := strings.Fields(line)
			eps = append(eps, sdk.Endpoint{Address: f[0], Healthy: len(f) < 2 || f[1] != "unhealthy"})
		}
	}
	return eps, ready, reason
}
