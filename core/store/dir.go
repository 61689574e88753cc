package store

import (
	"os"
	"path/filepath"
)

// DefaultDir is the --data-dir default: $TURNOUT_DATA_DIR, else
// $MESOS_SANDBOX/turnout-data under Mesos (a relative path would depend on
// the executor's working directory; "turnout" itself is the binary the
// Mesos fetcher unpacks there), else ./turnout-data.
func DefaultDir() string {
	if d := os.Getenv("TURNOUT_DATA_DIR"); d != "" {
		return d
	}
	if sb := os.Getenv("MESOS_SANDBOX"); sb != "" {
		return filepath.Join(sb, "turnout-data")
	}
	return "./turnout-data"
}
