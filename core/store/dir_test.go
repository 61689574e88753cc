package store

import (
	"path/filepath"
	"testing"
)

func TestDefaultDir(t *testing.T) {
	tests := []struct {
		name, dataDir, sandbox, want string
	}{
		{"flag env wins", "/data/t", "/mnt/sandbox", "/data/t"},
		{"mesos sandbox", "", "/mnt/sandbox", filepath.Join("/mnt/sandbox", "turnout-data")},
		{"neither", "", "", "./turnout-data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("TURNOUT_DATA_DIR", tt.dataDir)
			t.Setenv("MESOS_SANDBOX", tt.sandbox)
			if got := DefaultDir(); got != tt.want {
				t.Errorf("DefaultDir() = %q, want %q", got, tt.want)
			}
		})
	}
}
