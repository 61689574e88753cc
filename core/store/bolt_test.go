package store

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func mustOpen(t *testing.T, dir string) *Bolt {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBoltReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s := mustOpen(t, dir)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v, %v; want mode 0700", fi.Mode(), err)
	}
	apply(t, s, put("a", "a1", Absent), put("team/b", "b1", Absent))
	apply(t, s, put("a", "a2", 1))
	apply(t, s, del("team/b", 1))
	apply(t, s, put("c", "", Absent))
	names := []string{"a", "team/b", "c"}
	snap := snapshot(t, s)
	hists := map[string][]Entry{}
	for _, n := range names {
		hists[n] = history(t, s, n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, dir)
	defer s.Close()
	if got := snapshot(t, s); !reflect.DeepEqual(got, snap) {
		t.Errorf("snapshot after reopen = %+v, want %+v", got, snap)
	}
	for _, n := range names {
		if got := history(t, s, n); !reflect.DeepEqual(got, hists[n]) {
			t.Errorf("history of %s after reopen = %+v, want %+v", n, got, hists[n])
		}
	}
	// Numbering and version continue where they were.
	if e := apply(t, s, put("team/b", "b2", Absent))[0]; e.Revision != 3 {
		t.Errorf("re-created after reopen at revision %d, want 3", e.Revision)
	}
	if v := snapshot(t, s).Version; v != snap.Version+1 {
		t.Errorf("version = %d, want %d", v, snap.Version+1)
	}
	if got := recv(t, s.Watch(t.Context())); got.Version != snap.Version+1 {
		t.Errorf("watch after reopen starts at version %d", got.Version)
	}
}

func TestBoltLocked(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	defer s.Close()
	_, err := Open(dir) // waits the full 2s lock timeout
	path := filepath.Join(dir, FileName)
	want := "store: open " + path + ": timeout waiting for the file lock (another turnout using this --data-dir?)"
	if !errors.Is(err, ErrLocked) || err.Error() != want {
		t.Fatalf("second open = %v, want %q", err, want)
	}
	// The first store is unharmed.
	apply(t, s, put("a", "a1", Absent))
}

func TestBoltSchema(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(tx *bolt.Tx) error
		target error
		want   string
	}{
		{"newer schema", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keySchema, u64(schemaVersion+1))
		}, ErrSchema, "store: open PATH: unsupported store schema: schema version 3 is newer than this turnout supports (2)"},
		{"schema zero", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keySchema, u64(0))
		}, ErrDamaged, "store: PATH is damaged: schema version 0 is corrupt"},
		{"schema key corrupt", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keySchema, []byte{1, 2, 3})
		}, ErrDamaged, "store: PATH is damaged: schema version key missing or corrupt"},
		{"schema key missing", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Delete(keySchema)
		}, ErrDamaged, "store: PATH is damaged: schema version key missing or corrupt"},
		{"meta bucket missing", func(tx *bolt.Tx) error {
			return tx.DeleteBucket(bucketMeta)
		}, ErrDamaged, "store: PATH is damaged: the meta bucket is missing"},
		{"gateways bucket missing", func(tx *bolt.Tx) error {
			return tx.DeleteBucket(bucketGateways)
		}, ErrDamaged, "store: PATH is damaged: the gateways bucket is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir)
			apply(t, s, put("a", "a1", Absent))
			s.Close()
			path := filepath.Join(dir, FileName)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(tt.tamper); err != nil {
				t.Fatal(err)
			}
			db.Close()
			s, err = Open(dir)
			if err == nil {
				s.Close()
				t.Fatal("open succeeded")
			}
			wantErr(t, err, tt.target, strings.ReplaceAll(tt.want, "PATH", path))
		})
	}
}

func TestBoltCorruptRecord(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	apply(t, s, put("a", "a1", Absent))
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketGateways).Bucket([]byte("a")).Put(binary.BigEndian.AppendUint64(nil, 1), []byte{9})
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(bg, "a")
	if err == nil || !strings.Contains(err.Error(), `gateway "a" revision 1: corrupt record`) || !strings.Contains(err.Error(), s.Path()) {
		t.Errorf("get of a corrupt record = %v", err)
	}
	s.Close()
}
