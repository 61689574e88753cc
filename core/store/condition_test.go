package store

import (
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/turnout/turnout/internal/zktest"
)

func cond(name, doc string, match int64) Change {
	c := put(name, doc, match)
	c.Kind = KindCondition
	return c
}

// A named condition (Vamp's /api/v1/conditions) is its own document: its
// own revisions and compare-and-set, a snapshot list of its own, and no tie
// to a gateway of the same name (deleting the gateway leaves it). A batch
// that rewrites a condition and the gateways using it is atomic.
func testConditions(t *testing.T, s Store) {
	apply(t, s, cond("ff", "user-agent = Firefox", Absent), put("ff", "a gateway named ff", Absent))
	snap := snapshot(t, s)
	if len(snap.Conditions) != 1 || snap.Conditions[0].Kind != KindCondition || string(snap.Conditions[0].Doc) != "user-agent = Firefox" || snap.Conditions[0].Revision != 1 {
		t.Fatalf("snapshot conditions: %+v", snap.Conditions)
	}
	if len(snap.Entries) != 1 || string(snap.Entries[0].Doc) != "a gateway named ff" {
		t.Fatalf("snapshot gateways: %+v", snap.Entries)
	}
	// A stale write is refused and names the condition.
	_, err := s.Apply(bg, []Change{cond("ff", "user-agent = Chrome", 2)})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Kind != KindCondition || ce.Current != 1 {
		t.Fatalf("stale condition write: %v", err)
	}
	if want := `condition "ff": revision conflict: expected revision 2, but the current revision is 1`; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
	if _, err := s.Apply(bg, []Change{cond("new", "x", 1)}); err == nil || err.Error() != `condition "new": revision conflict: expected revision 1, but the condition is absent` {
		t.Fatalf("If-Match on an absent condition: %v", err)
	}
	// Deleting the gateway leaves the condition.
	apply(t, s, del("ff", 1))
	if snap := snapshot(t, s); len(snap.Conditions) != 1 || len(snap.Entries) != 0 {
		t.Fatalf("after deleting the gateway: %+v", snap)
	}
	// The condition and a gateway using it in one batch: a stale gateway
	// match leaves the condition unwritten.
	apply(t, s, put("web", "uses ff: Firefox", Absent))
	if _, err := s.Apply(bg, []Change{cond("ff", "user-agent = Chrome", 1), put("web", "uses ff: Chrome", 7)}); !errors.Is(err, ErrConflict) {
		t.Fatalf("batch with a stale gateway: %v", err)
	}
	if snap := snapshot(t, s); string(snap.Conditions[0].Doc) != "user-agent = Firefox" {
		t.Fatalf("a refused batch wrote the condition: %+v", snap.Conditions)
	}
	before := snapshot(t, s).Version
	res := apply(t, s, cond("ff", "user-agent = Chrome", 1), Change{Name: "web", Doc: []byte("uses ff: Chrome"), Match: 1, Reason: `condition "ff" changed`})
	if res[0].Revision != 2 || res[1].Revision != 2 || res[1].Reason != `condition "ff" changed` {
		t.Fatalf("batch results: %+v", res)
	}
	if snap := snapshot(t, s); snap.Version != before+1 || string(snap.Conditions[0].Doc) != "user-agent = Chrome" || string(snap.Entries[0].Doc) != "uses ff: Chrome" {
		t.Fatalf("after the batch: %+v", snap)
	}
	// Delete and re-create: the numbering goes on, as for a gateway.
	apply(t, s, Change{Kind: KindCondition, Name: "ff", Match: 2})
	if snap := snapshot(t, s); len(snap.Conditions) != 0 {
		t.Fatalf("after delete: %+v", snap.Conditions)
	}
	if _, err := s.Apply(bg, []Change{{Kind: KindCondition, Name: "ff", Match: Any}}); !errors.Is(err, ErrNotFound) || err.Error() != `condition "ff": not found` {
		t.Fatalf("deleting a deleted condition: %v", err)
	}
	if e := apply(t, s, cond("ff", "user-agent = Safari", Absent))[0]; e.Revision != 4 {
		t.Fatalf("re-created at revision %d, want 4", e.Revision)
	}
	// A no-op write makes no revision.
	if e := apply(t, s, cond("ff", "user-agent = Safari", Any))[0]; e.Revision != 4 {
		t.Fatalf("no-op at revision %d", e.Revision)
	}
}

// A file written before named conditions (no conditions bucket) opens,
// gets the bucket, and takes conditions; conditions survive a reopen.
func TestBoltConditionsBucketAdded(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	apply(t, s, put("web", "gw", Absent))
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketConditions) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if rep, err := CheckDir(dir); err != nil || rep.Gateways != 1 {
		t.Fatalf("check of a file without the conditions bucket: %+v %v", rep, err)
	}
	s = mustOpen(t, dir)
	apply(t, s, cond("ff", "user-agent = Firefox", Absent))
	s.Close()
	s = mustOpen(t, dir)
	defer s.Close()
	if snap := snapshot(t, s); len(snap.Conditions) != 1 || string(snap.Conditions[0].Doc) != "user-agent = Firefox" || len(snap.Entries) != 1 {
		t.Fatalf("after reopen: %+v", snap)
	}
	s.Close()
	if rep, err := CheckDir(dir); err != nil || rep.Conditions != 1 || rep.Gateways != 1 {
		t.Fatalf("check: %+v %v", rep, err)
	}
}

// A ZooKeeper store made before named conditions (no P/conditions) opens
// and gets the znode.
func TestZKConditionsDirAdded(t *testing.T) {
	srv := zktest.Start(t)
	path := zkPath()
	s := openZK(t, srv, path)
	apply(t, s, put("web", "gw", Absent))
	if err := s.conn.Delete(path+"/conditions", -1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openZK(t, srv, path)
	if ok, _, err := s.conn.Exists(path + "/conditions"); err != nil || !ok {
		t.Fatalf("conditions znode after open: %v %v", ok, err)
	}
	apply(t, s, cond("ff", "user-agent = Firefox", Absent))
	if snap := snapshot(t, s); len(snap.Conditions) != 1 || len(snap.Entries) != 1 {
		t.Fatalf("snapshot: %+v", snap)
	}
}
