package store

import (
	"errors"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/turnout/turnout/internal/zktest"
)

func cond(name, doc string, match int64) Change { return named(KindCondition, name, doc, match) }

func named(k Kind, name, doc string, match int64) Change {
	c := put(name, doc, match)
	c.Kind = k
	return c
}

// namedKinds are the kinds a gateway's routes reference by name, each with
// its snapshot list and its word in messages.
var namedKinds = []struct {
	kind Kind
	word string
	list func(Snapshot) []Entry
}{
	{KindCondition, "condition", func(s Snapshot) []Entry { return s.Conditions }},
	{KindRoute, "stored route", func(s Snapshot) []Entry { return s.Routes }},
}

func testNamed(t *testing.T, s Store) {
	for _, k := range namedKinds {
		testNamedKind(t, s, k.kind, k.word, k.list)
	}
}

// A named condition (Vamp's /api/v1/conditions) or stored route (its
// /api/v1/routes) is its own document: its own revisions and
// compare-and-set, a snapshot list of its own, and no tie to a gateway of
// the same name (deleting the gateway leaves it). A batch that rewrites one
// and the gateways using it is atomic. Each kind runs on the store the
// other kind's run left, so a write of one never shows in the other's list.
func testNamedKind(t *testing.T, s Store, kind Kind, word string, list func(Snapshot) []Entry) {
	cond := func(name, doc string, match int64) Change { return named(kind, name, doc, match) }
	gws := len(snapshot(t, s).Entries)
	apply(t, s, cond("ff", "user-agent = Firefox", Absent), put("ff", "a gateway named ff", Absent))
	snap := snapshot(t, s)
	if l := list(snap); len(l) != 1 || l[0].Kind != kind || string(l[0].Doc) != "user-agent = Firefox" || l[0].Revision != 1 {
		t.Fatalf("snapshot %ss: %+v", word, l)
	}
	if len(snap.Entries) != gws+1 {
		t.Fatalf("snapshot gateways: %+v", snap.Entries)
	}
	// A stale write is refused and names the document.
	_, err := s.Apply(bg, []Change{cond("ff", "user-agent = Chrome", 2)})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Kind != kind || ce.Current != 1 {
		t.Fatalf("stale %s write: %v", word, err)
	}
	if want := word + ` "ff": revision conflict: expected revision 2, but the current revision is 1`; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
	if want := word + ` "new": revision conflict: expected revision 1, but the ` + word + ` is absent`; func() bool {
		_, err := s.Apply(bg, []Change{cond("new", "x", 1)})
		return err == nil || err.Error() != want
	}() {
		t.Fatalf("If-Match on an absent %s: want %q", word, want)
	}
	// Deleting the gateway leaves the document.
	apply(t, s, del("ff", Any))
	if snap := snapshot(t, s); len(list(snap)) != 1 || len(snap.Entries) != gws {
		t.Fatalf("after deleting the gateway: %+v", snap)
	}
	// The condition and a gateway using it in one batch: a stale gateway
	// match leaves the condition unwritten.
	web := "web-" + word
	apply(t, s, put(web, "uses ff: Firefox", Absent))
	if _, err := s.Apply(bg, []Change{cond("ff", "user-agent = Chrome", 1), put(web, "uses ff: Chrome", 7)}); !errors.Is(err, ErrConflict) {
		t.Fatalf("batch with a stale gateway: %v", err)
	}
	if snap := snapshot(t, s); string(list(snap)[0].Doc) != "user-agent = Firefox" {
		t.Fatalf("a refused batch wrote the %s: %+v", word, list(snap))
	}
	before := snapshot(t, s).Version
	res := apply(t, s, cond("ff", "user-agent = Chrome", 1), Change{Name: web, Doc: []byte("uses ff: Chrome"), Match: 1, Reason: `"ff" changed`})
	if res[0].Revision != 2 || res[1].Revision != 2 || res[1].Reason != `"ff" changed` {
		t.Fatalf("batch results: %+v", res)
	}
	if snap := snapshot(t, s); snap.Version != before+1 || string(list(snap)[0].Doc) != "user-agent = Chrome" || !slices.ContainsFunc(snap.Entries, func(e Entry) bool { return e.Name == web && string(e.Doc) == "uses ff: Chrome" }) {
		t.Fatalf("after the batch: %+v", snap)
	}
	// Delete and re-create: the numbering goes on, as for a gateway.
	apply(t, s, Change{Kind: kind, Name: "ff", Match: 2})
	if snap := snapshot(t, s); len(list(snap)) != 0 {
		t.Fatalf("after delete: %+v", list(snap))
	}
	if _, err := s.Apply(bg, []Change{{Kind: kind, Name: "ff", Match: Any}}); !errors.Is(err, ErrNotFound) || err.Error() != word+` "ff": not found` {
		t.Fatalf("deleting a deleted %s: %v", word, err)
	}
	if e := apply(t, s, cond("ff", "user-agent = Safari", Absent))[0]; e.Revision != 4 {
		t.Fatalf("re-created at revision %d, want 4", e.Revision)
	}
	// A no-op write makes no revision.
	if e := apply(t, s, cond("ff", "user-agent = Safari", Any))[0]; e.Revision != 4 {
		t.Fatalf("no-op at revision %d", e.Revision)
	}
	// Gone again, so the next kind's run starts without it.
	apply(t, s, Change{Kind: kind, Name: "ff", Match: 4})
}

// A file written before named conditions and stored routes (no buckets
// for them) opens, gets the buckets, and takes both; they survive a reopen.
func TestBoltNamedBucketsAdded(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	apply(t, s, put("web", "gw", Absent))
	if err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketConditions); err != nil {
			return err
		}
		return tx.DeleteBucket(bucketRoutes)
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if rep, err := CheckDir(dir); err != nil || rep.Gateways != 1 {
		t.Fatalf("check of a file without the conditions and routes buckets: %+v %v", rep, err)
	}
	s = mustOpen(t, dir)
	apply(t, s, cond("ff", "user-agent = Firefox", Absent), named(KindRoute, "canary", "weight: 10%", Absent))
	s.Close()
	s = mustOpen(t, dir)
	defer s.Close()
	if snap := snapshot(t, s); len(snap.Conditions) != 1 || string(snap.Conditions[0].Doc) != "user-agent = Firefox" || len(snap.Routes) != 1 || len(snap.Entries) != 1 {
		t.Fatalf("after reopen: %+v", snap)
	}
	s.Close()
	if rep, err := CheckDir(dir); err != nil || rep.Conditions != 1 || rep.Routes != 1 || rep.Gateways != 1 {
		t.Fatalf("check: %+v %v", rep, err)
	}
}

// A ZooKeeper store made before named conditions and stored routes (no
// P/conditions, P/routes) opens and gets the znodes.
func TestZKNamedDirsAdded(t *testing.T) {
	srv := zktest.Start(t)
	path := zkPath()
	s := openZK(t, srv, path)
	apply(t, s, put("web", "gw", Absent))
	for _, dir := range []string{"/conditions", "/routes"} {
		if err := s.conn.Delete(path+dir, -1); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = openZK(t, srv, path)
	for _, dir := range []string{"/conditions", "/routes"} {
		if ok, _, err := s.conn.Exists(path + dir); err != nil || !ok {
			t.Fatalf("%s znode after open: %v %v", dir, ok, err)
		}
	}
	apply(t, s, cond("ff", "user-agent = Firefox", Absent), named(KindRoute, "canary", "weight: 10%", Absent))
	if snap := snapshot(t, s); len(snap.Conditions) != 1 || len(snap.Routes) != 1 || len(snap.Entries) != 1 {
		t.Fatalf("snapshot: %+v", snap)
	}
}
