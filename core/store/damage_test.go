package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// golden is what a seeded store holds.
type golden struct {
	snap  Snapshot
	hists map[string][]Entry
}

var seededNames = []string{"shop", "team/api", "old"}

// seedStore writes a store with histories (several leaf pages), a deletion
// and a policy state, and returns its dir and what it holds. The newest
// revision of shop is the only one with "weight":"60%"; the policy state
// the only document with "step":2.
func seedStore(t *testing.T) (string, golden) {
	t.Helper()
	dir := t.TempDir()
	s := mustOpen(t, dir)
	pad := strings.Repeat("x", 300)
	for rev := int64(1); rev <= 12; rev++ {
		apply(t, s,
			put("shop", fmt.Sprintf(`{"name":"shop","routes":{"v2":{"weight":"%d%%"}},"pad":%q}`, rev*5, pad), rev-1),
			put("team/api", fmt.Sprintf(`{"name":"team/api","rev":%d,"pad":%q}`, rev, pad), rev-1))
	}
	apply(t, s, put("old", `{"name":"old"}`, Absent))
	apply(t, s, del("old", 1))
	apply(t, s, Change{Kind: KindPolicy, Name: "shop", Doc: []byte(`{"step":2,"phase":"progressing"}`), Match: Absent, Reason: "error rate 0.1% < 1%"})
	g := readGolden(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, g
}

func readGolden(t *testing.T, s Store) golden {
	t.Helper()
	g := golden{snap: snapshot(t, s), hists: map[string][]Entry{}}
	for _, n := range seededNames {
		g.hists[n] = history(t, s, n)
	}
	return g
}

// sameAsGolden checks that a store opened after harmless damage holds
// exactly what was written.
func sameAsGolden(t *testing.T, s Store, g golden) {
	t.Helper()
	got := readGolden(t, s)
	if reflect.DeepEqual(got, g) {
		return
	}
	t.Errorf("store at version %d holds %s, policies %s; want version %d, %s, policies %s",
		got.snap.Version, revs(got.snap.Entries), revs(got.snap.Policies), g.snap.Version, revs(g.snap.Entries), revs(g.snap.Policies))
	for _, n := range seededNames {
		if !reflect.DeepEqual(got.hists[n], g.hists[n]) {
			t.Errorf("history of %s = %s, want %s", n, revs(got.hists[n]), revs(g.hists[n]))
		}
	}
}

// fileMeta is the newest valid meta page of the file.
func fileMeta(t *testing.T, path string) boltMeta {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m0, err0 := readMeta(f, 0)
	m1, err1 := readMeta(f, int64(m0.pageSize))
	if err0 != nil || err1 != nil {
		t.Fatalf("meta pages: %v, %v", err0, err1)
	}
	if m1.txid > m0.txid {
		return m1
	}
	return m0
}

// replaceAll changes every copy of old in data (the live record and any
// stale copy in a free page alike).
func replaceAll(t *testing.T, data []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%q is not in the file", old)
	}
	return bytes.ReplaceAll(data, []byte(old), []byte(new))
}

// garble fills page n with random bytes.
func garble(data []byte, ps, n int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	for i := n * ps; i < (n+1)*ps && i < len(data); i++ {
		data[i] = byte(r.Uint32())
	}
}

// pagesWith are the pages holding s.
func pagesWith(data []byte, ps int, s string) []int {
	var out []int
	for n := 0; n*ps < len(data); n++ {
		if bytes.Contains(data[n*ps:min((n+1)*ps, len(data))], []byte(s)) {
			out = append(out, n)
		}
	}
	return out
}

const lastLost = "(last commit lost)"

// TestDamage: every kind of damage to the file is refused by Open and by
// Check with an error that names the file and what is wrong, wrapping
// ErrDamaged; none panics or faults (a fault would end the test binary).
// Damage bbolt is built to survive (a tail past the last page, one torn
// meta page) opens with the data intact.
func TestDamage(t *testing.T) {
	tests := []struct {
		name string
		// damage gets the file and the newest meta, returns the new file.
		damage func(t *testing.T, data []byte, m boltMeta) []byte
		want   string // "" for a file that must open intact, lastLost for one without its last commit
		warn   string // a warning Open must give
	}{
		{"0 bytes", func(_ *testing.T, data []byte, _ boltMeta) []byte { return nil },
			"the file is empty (0 bytes)", ""},
		{"truncated to 10 bytes", func(_ *testing.T, data []byte, _ boltMeta) []byte { return data[:10] },
			"the file is 10 bytes, too short for a store file: truncated", ""},
		{"truncated in meta page 1", func(_ *testing.T, data []byte, m boltMeta) []byte { return data[:int(m.pageSize)+40] },
			"is truncated", ""},
		{"truncated after the meta pages", func(_ *testing.T, data []byte, m boltMeta) []byte { return data[:2*m.pageSize] },
			"the file is truncated: it is 8192 bytes", ""},
		{"truncated in the middle", func(_ *testing.T, data []byte, m boltMeta) []byte {
			return data[:int(m.pgid)*int(m.pageSize)/2+100]
		}, "the file is truncated", ""},
		{"last used page cut by a byte", func(_ *testing.T, data []byte, m boltMeta) []byte {
			return data[:int(m.pgid)*int(m.pageSize)-1]
		}, "the file is truncated", ""},
		{"unused tail cut", func(_ *testing.T, data []byte, m boltMeta) []byte {
			return data[:int(m.pgid)*int(m.pageSize)]
		}, "", ""},
		{"garbled older meta page", func(_ *testing.T, data []byte, m boltMeta) []byte {
			garble(data, int(m.pageSize), int(1-m.txid%2), 1)
			return data
		}, "", "is damaged (no bbolt magic number)"},
		{"older meta page with a flipped byte", func(_ *testing.T, data []byte, m boltMeta) []byte {
			data[int(1-m.txid%2)*int(m.pageSize)+pageHeaderSize+20] ^= 0x10
			return data
		}, "", "is damaged (checksum mismatch)"},
		// A torn write of the newest meta page, as a crash in a commit
		// leaves it: the store is read at the transaction before, which
		// is what was acknowledged.
		{"newest meta page garbled", func(_ *testing.T, data []byte, m boltMeta) []byte {
			garble(data, int(m.pageSize), int(m.txid%2), 1)
			return data
		}, lastLost, "the store is read at transaction"},
		{"both meta pages garbled", func(_ *testing.T, data []byte, m boltMeta) []byte {
			garble(data, int(m.pageSize), 0, 1)
			garble(data, int(m.pageSize), 1, 1)
			return data
		}, "both header (meta) pages are garbled", ""},
		{"whole file garbage", func(_ *testing.T, data []byte, _ boltMeta) []byte {
			return []byte(strings.Repeat("not a bbolt file ", 1000))
		}, "both header (meta) pages are garbled", ""},
		{"garbled root page", func(_ *testing.T, data []byte, m boltMeta) []byte {
			garble(data, int(m.pageSize), int(m.root), 2)
			return data
		}, "is damaged", ""},
		{"garbled free-page list", func(_ *testing.T, data []byte, m boltMeta) []byte {
			garble(data, int(m.pageSize), int(m.freelist), 3)
			return data
		}, "the free-page list (page", ""},
		{"garbled data pages holding a gateway", func(t *testing.T, data []byte, m boltMeta) []byte {
			for _, n := range pagesWith(data, int(m.pageSize), `"weight":"60%"`) {
				garble(data, int(m.pageSize), n, 4)
			}
			return data
		}, "is damaged", ""},
		{"zeroed data pages holding a gateway", func(t *testing.T, data []byte, m boltMeta) []byte {
			for _, n := range pagesWith(data, int(m.pageSize), `"weight":"60%"`) {
				clear(data[n*int(m.pageSize) : (n+1)*int(m.pageSize)])
			}
			return data
		}, "is damaged", ""},
		{"flipped digit in a gateway, still valid JSON", func(t *testing.T, data []byte, _ boltMeta) []byte {
			return replaceAll(t, data, `"weight":"60%"`, `"weight":"70%"`)
		}, `gateway "shop" revision 12: checksum mismatch: the record changed on disk after it was written`, ""},
		{"flipped digit in a policy state", func(t *testing.T, data []byte, _ boltMeta) []byte {
			return replaceAll(t, data, `"step":2`, `"step":3`)
		}, `policy state of gateway "shop" revision 1: checksum mismatch`, ""},
		{"flipped letter in a reason", func(t *testing.T, data []byte, _ boltMeta) []byte {
			return replaceAll(t, data, "error rate", "errOr rate")
		}, `policy state of gateway "shop" revision 1: checksum mismatch`, ""},
		{"gateway renamed on disk", func(t *testing.T, data []byte, _ boltMeta) []byte {
			return replaceAll(t, data, "team/api", "team/apx")
		}, `gateway "team/apx" revision 1: checksum mismatch`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, g := seedStore(t)
			path := filepath.Join(dir, FileName)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data = tt.damage(t, data, fileMeta(t, path))
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}

			rep, err := Check(path)
			if tt.want == lastLost {
				// Without the policy state, the last commit.
				g.snap.Version--
				g.snap.Policies = []Entry{}
				tt.want = ""
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				if tt.warn != "" && (len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], tt.warn)) {
					t.Errorf("check warnings = %q, want %q", rep.Warnings, tt.warn)
				}
				s := mustOpen(t, dir)
				defer s.Close()
				if w := s.Opened().Check.Warnings; tt.warn != "" && (len(w) != 1 || !strings.Contains(w[0], tt.warn)) {
					t.Errorf("open warnings = %q, want %q", w, tt.warn)
				}
				sameAsGolden(t, s, g)
				return
			}
			wantErr(t, err, ErrDamaged, "store: "+path+" is damaged: ", tt.want)
			if rep.Damage == 0 || len(rep.Problems) == 0 {
				t.Errorf("report without problems: %+v", rep)
			}
			s, err := Open(dir)
			if err == nil {
				s.Close()
				t.Fatal("open succeeded")
			}
			wantErr(t, err, ErrDamaged, "store: "+path+" is damaged: ", tt.want)
			// Refused, not rewritten: the file is as the damage left it.
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Error("open changed the damaged file")
			}
		})
	}
}

// TestDamageEveryPage garbles each page of a seeded store in turn, then
// flips single bytes: each time Check and Open either refuse the file as
// damaged or hold exactly what was written (a free page, padding); neither
// may panic or fault, nor serve changed data.
func TestDamageEveryPage(t *testing.T) {
	if testing.Short() {
		t.Skip("opens the store a few hundred times")
	}
	dir, g := seedStore(t)
	path := filepath.Join(dir, FileName)
	clean, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := fileMeta(t, path)
	ps := int(m.pageSize)
	// try writes data as the store file: Check and Open must agree, refuse
	// it as damaged, or hold what was written; the store version, which
	// has no checksum (it is not a document), is taken as found.
	refused, intact := 0, 0
	try := func(what string, data []byte) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Check(path)
		if err != nil && !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrSchema) {
			t.Errorf("%s: check: %v, want ErrDamaged", what, err)
		}
		s, oerr := Open(dir)
		if (oerr == nil) != (err == nil) {
			t.Errorf("%s: check says %v, open says %v", what, err, oerr)
		}
		if oerr != nil {
			refused++
		} else {
			intact++
			want := g
			want.snap.Version = snapshot(t, s).Version
			sameAsGolden(t, s, want)
			s.Close()
		}
	}
	for n := 2; n*ps < len(clean); n++ {
		data := bytes.Clone(clean)
		garble(data, ps, n, 5)
		try(fmt.Sprintf("page %d garbled", n), data)
	}
	r := rand.New(rand.NewPCG(6, 7))
	for range 300 {
		data := bytes.Clone(clean)
		i := 2*ps + r.IntN(int(m.pgid-2)*ps)
		data[i] ^= byte(1 << r.IntN(8))
		try(fmt.Sprintf("byte %d flipped", i), data)
	}
	t.Logf("%d pages of %d bytes: %d damaged files refused, %d held what was written", m.pgid, ps, refused, intact)
	os.WriteFile(path, clean, 0o600)
}

func TestMissingStoreFile(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	apply(t, s, put("a", "a1", Absent))
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, MarkerFile)); err != nil {
		t.Fatalf("no marker after open: %v", err)
	}
	path := filepath.Join(dir, FileName)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	want := "store: " + path + " is damaged: the file is missing, but " + filepath.Join(dir, MarkerFile) + " says this data dir held a store"
	_, err := Open(dir)
	wantErr(t, err, ErrDamaged, want, "delete the marker to start with an empty store")
	_, err = CheckDir(dir)
	wantErr(t, err, ErrDamaged, want)
	if _, err := os.Stat(path); err == nil {
		t.Error("open created a new store file")
	}
	// Deleting the marker is the way to start empty.
	os.Remove(filepath.Join(dir, MarkerFile))
	s = mustOpen(t, dir)
	defer s.Close()
	if snap := snapshot(t, s); len(snap.Entries) != 0 {
		t.Errorf("new store holds %+v", snap)
	}
}

func TestZeroByteFileWithoutMarker(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	wantErr(t, err, ErrDamaged, "the file is empty (0 bytes)")
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Errorf("open wrote %d bytes into the empty file", fi.Size())
	}
}

// writeSchema1 writes the store of turnout before checksums: schema 1,
// records without CRC, no policies bucket.
func writeSchema1(t *testing.T, dir string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rec := func(flags byte, ns int64, doc string) []byte {
		b := append([]byte{flags}, binary.BigEndian.AppendUint64(nil, uint64(ns))...)
		return append(b, doc...)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		meta.Put(keySchema, u64(1))
		meta.Put(keyVersion, u64(3))
		gws, _ := tx.CreateBucket(bucketGateways)
		a, _ := gws.CreateBucket([]byte("a"))
		a.Put(u64(1), rec(0, 1e18, "a1"))
		a.Put(u64(2), rec(0, 2e18, "a2"))
		b, _ := gws.CreateBucket([]byte("b"))
		b.Put(u64(1), rec(0, 1e18, "b1"))
		return b.Put(u64(2), rec(flagDeleted, 3e18, ""))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateSchema1: a store of the previous turnout is checked (records
// decoded, none with a checksum), then migrated at open: every record gets
// its checksum, the file becomes schema 2, and from then on a changed
// document is caught.
func TestMigrateSchema1(t *testing.T) {
	dir := t.TempDir()
	writeSchema1(t, dir)
	path := filepath.Join(dir, FileName)
	rep, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Schema != 1 || rep.Revisions != 4 || rep.Unsummed != 4 || rep.Gateways != 1 || rep.Version != 3 {
		t.Errorf("schema 1 report = %+v", rep)
	}
	s := mustOpen(t, dir)
	if o := s.Opened(); !o.Migrated || o.Created {
		t.Errorf("opened = %+v, want migrated", o)
	}
	wantRevs(t, "history of a", history(t, s, "a"), "a@1:a1 a@2:a2")
	wantRevs(t, "history of b", history(t, s, "b"), "b@1:b1 b@2:deleted")
	if v := snapshot(t, s).Version; v != 3 {
		t.Errorf("version after migration = %d, want 3", v)
	}
	apply(t, s, put("a", "a3", 2))
	s.Close()
	if rep, err = Check(path); err != nil || rep.Schema != 2 || rep.Unsummed != 0 || rep.Revisions != 5 {
		t.Fatalf("after migration: %+v, %v", rep, err)
	}
	data, _ := os.ReadFile(path)
	os.WriteFile(path, replaceAll(t, data, "a2", "a9"), 0o600)
	_, err = Open(dir)
	wantErr(t, err, ErrDamaged, `gateway "a" revision 2: checksum mismatch`)
}

// TestBackupRestore: a live backup (Bolt.Backup) and an offline one
// (BackupFile) restore to the same store, and Restore keeps the file it
// replaces.
func TestBackupRestore(t *testing.T) {
	dir, g := seedStore(t)
	s := mustOpen(t, dir)
	live := filepath.Join(t.TempDir(), "live.db")
	var size int64
	rep, err := SaveBackup(live, func(w io.Writer) error {
		_, err := s.Backup(bg, w, func(n int64) { size = n })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(live); fi.Size() != size || rep.Gateways != 2 || rep.Policies != 1 || rep.Path != live {
		t.Errorf("live backup: %d bytes (announced %d), report %+v", fi.Size(), size, rep)
	}
	s.Close()
	offline := filepath.Join(t.TempDir(), "offline.db")
	if _, err := BackupFile(dir, offline); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir)
	apply(t, s, put("later", "x", Absent)) // in neither backup
	s.Close()
	if _, err := BackupFile(dir, filepath.Join(dir, FileName)); err == nil {
		t.Error("backup over the store file itself succeeded")
	}

	// Into a new data dir: nothing to keep aside.
	fresh := filepath.Join(t.TempDir(), "data")
	res, err := Restore(fresh, live)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kept != "" || res.Backup.Gateways != 2 {
		t.Errorf("restore into a new dir: %+v", res)
	}
	s = mustOpen(t, fresh)
	sameAsGolden(t, s, g)
	s.Close()

	// Over a damaged store: kept aside as .damaged-TIME, byte for byte.
	path := filepath.Join(dir, FileName)
	os.Truncate(path, 5000)
	damaged, _ := os.ReadFile(path)
	if res, err = Restore(dir, offline); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Kept, path+".damaged-") || !errors.Is(res.KeptDamage, ErrDamaged) {
		t.Errorf("kept %q (%v), want %s.damaged-TIME", res.Kept, res.KeptDamage, path)
	}
	if kept, _ := os.ReadFile(res.Kept); !bytes.Equal(kept, damaged) {
		t.Error("the damaged file was not kept as it was")
	}
	s = mustOpen(t, dir)
	if _, err := s.Get(bg, "later"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a gateway written after the backup: %v", err)
	}
	sameAsGolden(t, s, g)

	// A running store is not replaced (Check waits 2s for the lock).
	if _, err := Restore(dir, live); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "stop it first") {
		t.Errorf("restore over a store in use = %v", err)
	}
	s.Close()

	// Over a sound store: kept as .replaced-TIME.
	if res, err = Restore(dir, live); err != nil || !strings.HasPrefix(res.Kept, path+".replaced-") {
		t.Errorf("restore over a sound store: %+v, %v", res, err)
	}

	// A damaged backup is refused and nothing changes.
	before, _ := os.ReadFile(path)
	bad := filepath.Join(t.TempDir(), "bad.db")
	data, _ := os.ReadFile(live)
	os.WriteFile(bad, replaceAll(t, data, `"weight":"60%"`, `"weight":"70%"`), 0o600)
	_, err = Restore(dir, bad)
	wantErr(t, err, ErrDamaged, "restore refused, the backup failed its check (nothing was changed)", "checksum mismatch")
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("a refused restore changed the store")
	}
}

func TestBackupFileLocked(t *testing.T) {
	dir, _ := seedStore(t)
	s := mustOpen(t, dir)
	defer s.Close()
	_, err := BackupFile(dir, filepath.Join(t.TempDir(), "b.db"))
	wantErr(t, err, ErrLocked, "another turnout using this --data-dir?")
}
