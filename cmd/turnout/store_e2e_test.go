package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/turnout/turnout/internal/testnet"
)

// storeCLI runs the binary and checks its exit code; it returns stdout and
// stderr, and fails on a Go panic or fault trace in either.
func storeCLI(t *testing.T, env []string, wantCode int, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runTurnout(t, env, &out, &errb, args...)
	if code != wantCode {
		t.Fatalf("turnout %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out.String(), errb.String())
	}
	noTrace(t, out.String()+errb.String())
	return out.String(), errb.String()
}

func noTrace(t *testing.T, s string) {
	t.Helper()
	for _, trace := range []string{"goroutine ", "panic:", "SIGBUS", "SIGSEGV", "fatal error"} {
		if strings.Contains(s, trace) {
			t.Fatalf("output has %q:\n%s", trace, s)
		}
	}
}

func mustContain(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, s)
		}
	}
}

// copyDataDir copies a data dir's store and marker into a new one.
func copyDataDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	for _, f := range []string{"turnout.db", "turnout.db.marker"} {
		b, err := os.ReadFile(filepath.Join(from, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// The store's damage, check, backup and restore through the real binary: a
// damaged store stops `turnout serve` with what is wrong and what to do,
// exit 1, no panic; `store check` tells sound from damaged; a backup taken
// from the running turnout through its API, restored over a damaged store,
// serves the gateways again.
func TestStoreDamageBackupRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	data, pins := t.TempDir(), seedPins(t)
	const token = "s3cret"
	auth := []string{"TURNOUT_TOKEN=" + token}
	tt := run(t, append([]string{"--data-dir", data, "--token", token}, pins...)...)
	port := testnet.FreePort(t)
	file := filepath.Join(t.TempDir(), "seed.yaml")
	for _, w := range []int{50, 80} {
		if err := os.WriteFile(file, []byte(seed(port, fmt.Sprintf("%d%%", w), fmt.Sprintf("%d%%", 100-w))), 0o644); err != nil {
			t.Fatal(err)
		}
		storeCLI(t, auth, 0, "gateway", "apply", "-f", file, "--addr", tt.admin)
	}

	// The running turnout holds the store: offline commands say so.
	_, stderr := storeCLI(t, nil, 1, "store", "check", "--data-dir", data)
	mustContain(t, "check of a store in use", stderr, "in use by a running turnout", "turnout store backup --addr")
	backup := filepath.Join(t.TempDir(), "backup.db")
	_, stderr = storeCLI(t, nil, 1, "store", "backup", "--data-dir", data, backup)
	mustContain(t, "offline backup of a store in use", stderr, "in use by a running turnout", "turnout store backup --addr HOST:PORT "+backup)

	// Through the API: the token is required like everywhere on the API.
	_, stderr = storeCLI(t, nil, 1, "store", "backup", "--addr", tt.admin, backup)
	mustContain(t, "backup without the token", stderr, "unauthorized")
	if _, err := os.Stat(backup); err == nil {
		t.Fatal("a refused backup left a file")
	}
	out, _ := storeCLI(t, auth, 0, "store", "backup", "--addr", tt.admin, backup)
	mustContain(t, "API backup", out, "backed up http://"+tt.admin+" to "+backup+": 1 gateway, 0 policy states, store version 2", "checked: sound")
	leftovers, _ := filepath.Glob(backup + ".tmp-*")
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	tt.stop()

	out, _ = storeCLI(t, nil, 0, "store", "check", backup)
	mustContain(t, "check of the backup", out, "schema    2, store version 2", "1 gateway, 0 policy states, 2 revisions kept", "sound: bbolt's consistency check passed and every revision's checksum matches")
	out, _ = storeCLI(t, nil, 0, "store", "check", "--data-dir", data)
	mustContain(t, "check of the stopped store", out, "store     "+filepath.Join(data, "turnout.db"), "sound:")
	offline := filepath.Join(t.TempDir(), "offline.db")
	out, _ = storeCLI(t, nil, 0, "store", "backup", "--data-dir", data, offline)
	mustContain(t, "offline backup", out, "to "+offline+": 1 gateway", "checked: sound")

	good, err := os.ReadFile(filepath.Join(data, "turnout.db"))
	if err != nil {
		t.Fatal(err)
	}
	// Each damage, on a copy of the store: serve refuses, check agrees.
	damages := []struct {
		name   string
		damage func([]byte) []byte // nil: the store file is removed
		want   string
	}{
		{"0 bytes", func([]byte) []byte { return nil }, "the file is empty (0 bytes)"},
		// Three pages: the two meta pages and one more, fewer than any
		// transaction after the first needs.
		{"truncated", func(b []byte) []byte { return b[:3*4096] }, "the file is truncated"},
		{"garbled header", func(b []byte) []byte {
			rand.Read(b[:8192])
			return b
		}, "both header (meta) pages are garbled"},
		{"garbled data", func(b []byte) []byte {
			rand.Read(b[8192:])
			return b
		}, "is damaged: "},
		{"a changed document that is still valid", func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte("simple-service-1.1.0"), []byte("simple-service-1.2.0"))
		}, `gateway "simpleservice" revision 1: checksum mismatch`},
		{"file gone, marker left", nil, "the file is missing, but"},
	}
	var damagedDir string
	parent := t
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir := copyDataDir(parent, data) // outlives the subtest
			path := filepath.Join(dir, "turnout.db")
			if d.damage == nil {
				os.Remove(path)
			} else if err := os.WriteFile(path, d.damage(bytes.Clone(good)), 0o600); err != nil {
				t.Fatal(err)
			}
			_, stderr := storeCLI(t, nil, 1, "serve", "--data-dir", dir, "--admin", "127.0.0.1:0")
			mustContain(t, "serve", stderr, "turnout: store: "+path+" is damaged: ", d.want,
				"turnout does not start on a damaged store (nothing was changed)",
				"turnout store check --data-dir "+dir, "turnout store restore --data-dir "+dir+" BACKUP")
			out, stderr := storeCLI(t, nil, 1, "store", "check", "--data-dir", dir)
			mustContain(t, "store check", out+stderr, "damage    ", d.want)
			if d.damage != nil {
				damagedDir = dir
			}
		})
	}

	// A damaged backup is not restored.
	bad := filepath.Join(t.TempDir(), "bad.db")
	os.WriteFile(bad, bytes.ReplaceAll(good, []byte("simple-service-1.1.0"), []byte("simple-service-1.2.0")), 0o600)
	_, stderr = storeCLI(t, nil, 1, "store", "restore", "--data-dir", damagedDir, bad)
	mustContain(t, "restore of a damaged backup", stderr, "restore refused, the backup failed its check (nothing was changed)", "checksum mismatch")

	// The API backup over the last damaged copy: the damaged file is kept,
	// and turnout serves the gateway again.
	damagedBytes, _ := os.ReadFile(filepath.Join(damagedDir, "turnout.db"))
	out, _ = storeCLI(t, nil, 0, "store", "restore", "--data-dir", damagedDir, backup)
	mustContain(t, "restore", out, "restored "+backup+" to "+filepath.Join(damagedDir, "turnout.db")+": 1 gateway", "the damaged store file it replaced is kept as "+filepath.Join(damagedDir, "turnout.db.damaged-"))
	kept, _ := filepath.Glob(filepath.Join(damagedDir, "turnout.db.damaged-*"))
	if len(kept) != 1 {
		t.Fatalf("kept files: %v", kept)
	}
	if b, _ := os.ReadFile(kept[0]); !bytes.Equal(b, damagedBytes) {
		t.Error("the damaged file was not kept as it was")
	}
	tt = run(t, append([]string{"--data-dir", damagedDir}, pins...)...)
	got := split(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 200, 4, nil)
	within(t, "after restore: 1.0.0", got["1.0.0"], 200, 80, 12)
	mustContain(t, "serve log", tt.logs.String(), "store checked", "gateways=1")

	// A store in use is not replaced.
	_, stderr = storeCLI(t, nil, 1, "store", "restore", "--data-dir", damagedDir, offline)
	mustContain(t, "restore over a running turnout", stderr, "is in use by a running turnout (nothing was changed); stop it first")
}

// Usage errors are exit 2 and change nothing; a data dir without a store
// has nothing to check (exit 1).
func TestStoreUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"store", "bogus"},
		{"store", "check", "--data-dir", dir, "some.db"},
		{"store", "check", "a.db", "b.db"},
		{"store", "backup"},
		{"store", "backup", "--addr", "127.0.0.1:1", "--data-dir", dir, "b.db"},
		{"store", "restore"},
		{"store", "restore", "--bogus", "b.db"},
	} {
		storeCLI(t, nil, 2, args...)
	}
	_, stderr := storeCLI(t, nil, 1, "store", "check", "--data-dir", dir)
	mustContain(t, "check of an empty data dir", stderr, "no store here")
	_, stderr = storeCLI(t, nil, 3, "store", "backup", "--addr", "127.0.0.1:1", filepath.Join(dir, "b.db"))
	mustContain(t, "backup from nowhere", stderr, "cannot reach turnout at http://127.0.0.1:1")
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left in the data dir: %v", entries)
	}
}
