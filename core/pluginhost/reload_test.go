package pluginhost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/plugins/sdk"
)

// tamper appends to a plugin file, so its checksum no longer matches.
func tamper(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("tampered")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// A plugin refused for its file, when the catalog was read or when it was
// about to start, is retried once the file is right again: the operator
// fixing it needs no restart, and the targets waiting on it resolve.
func TestRefusedPluginRetriedWhenItsFileChanges(t *testing.T) {
	for _, when := range []string{"at the catalog's scan", "at its start"} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			const file = "turnout-plugin-backend-echo"
			sum := install(t, dir, file)
			if when == "at the catalog's scan" {
				tamper(t, filepath.Join(dir, file))
			}
			var log testnet.Buffer
			h, _ := startHost(t, CatalogOptions{Dir: dir, Checksums: map[string]string{file: sum}}, nil, &log)
			if when == "at its start" {
				tamper(t, filepath.Join(dir, file))
				// The scan this change brings still refuses the file.
				testnet.Eventually(t, 10*time.Second, "the tampered file refused", func() bool {
					_, err := h.Describe(t.Context(), sdk.KindBackend, "echo")
					return err == nil && strings.Contains(statusOf(h, "echo").LastError, "checksum mismatch")
				})
			}
			target := sdk.Target{Scheme: "echo", Ref: "127.0.0.1:1,127.0.0.1:2"}
			h.SyncTargets([]sdk.Target{target})
			testnet.Eventually(t, 10*time.Second, "the target waiting on the refused plugin", func() bool {
				r, _ := h.Resolve(target)
				return !r.Received && (r.Refused || r.Error != "")
			})

			install(t, dir, file) // the right file again
			testnet.Eventually(t, 20*time.Second, "the plugin running and the target resolved", func() bool {
				r, _ := h.Resolve(target)
				return statusOf(h, "echo").State == StateRunning && r.Received && len(r.Endpoints) == 2
			})
			if !strings.Contains(log.String(), "plugin file accepted; starting it") && when == "at its start" {
				t.Errorf("the log does not say the plugin was started again:\n%s", log.String())
			}
		})
	}
}

func statusOf(h *Host, name string) Status {
	for _, s := range h.Statuses() {
		if s.Name == name {
			return s
		}
	}
	return Status{}
}
