package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Both implementations run the same table, so their semantics cannot drift.
func TestMemory(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return NewMemory() })
}

func TestBolt(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

const waitFor = 10 * time.Second // generous: the machine is shared

func testStore(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s Store)
	}{
		{"create", testCreate},
		{"update", testUpdate},
		{"no-op update", testNoop},
		{"conflicts", testConflicts},
		{"delete", testDelete},
		{"re-create", testRecreate},
		{"history and revision lookup", testHistory},
		{"names with slashes", testSlashNames},
		{"batch", testBatch},
		{"batch atomicity", testBatchAtomicity},
		{"invalid changes", testInvalid},
		{"pruning", testPruning},
		{"returned docs are copies", testCopies},
		{"watch one snapshot per change", testWatchEach},
		{"watch coalesces for a slow reader", testWatchCoalesce},
		{"watch closes on cancel without leaks", testWatchCancel},
		{"cancelled context", testCancelled},
		{"close", testClose},
		{"policy state", testPolicyState},
		{"policy state and weights in one batch", testPolicyBatch},
		{"reasons kept with revisions", testReasons},
		{"named conditions and stored routes", testNamed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			})
			tt.run(t, s)
		})
	}
}

var bg = context.Background()

func put(name, doc string, match int64) Change {
	return Change{Name: name, Doc: []byte(doc), Match: match}
}

func del(name string, match int64) Change {
	return Change{Name: name, Match: match}
}

// apply commits changes that must succeed.
func apply(t *testing.T, s Store, changes ...Change) []Entry {
	t.Helper()
	es, err := s.Apply(bg, changes)
	if err != nil {
		t.Fatalf("apply %+v: %v", changes, err)
	}
	if len(es) != len(changes) {
		t.Fatalf("apply: %d entries for %d changes", len(es), len(changes))
	}
	return es
}

func snapshot(t *testing.T, s Store) Snapshot {
	t.Helper()
	snap, err := s.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func history(t *testing.T, s Store, name string) []Entry {
	t.Helper()
	h, err := s.History(bg, name)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustGet(t *testing.T, s Store, name string) Entry {
	t.Helper()
	e, err := s.Get(bg, name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// revs lists the revision numbers (and docs) of entries, for short diffs.
func revs(es []Entry) string {
	var b strings.Builder
	for _, e := range es {
		if e.Deleted {
			fmt.Fprintf(&b, "%s@%d:deleted ", e.Name, e.Revision)
		} else {
			fmt.Fprintf(&b, "%s@%d:%s ", e.Name, e.Revision, e.Doc)
		}
	}
	return strings.TrimSpace(b.String())
}

func wantRevs(t *testing.T, what string, got []Entry, want string) {
	t.Helper()
	if r := revs(got); r != want {
		t.Errorf("%s = %q, want %q", what, r, want)
	}
}

func wantErr(t *testing.T, err, target error, contains ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q does not contain %q", err, c)
		}
	}
}

func testCreate(t *testing.T, s Store) {
	before := time.Now().Add(-time.Second)
	e := apply(t, s, put("web", "v1", Absent))[0]
	if e.Name != "web" || e.Revision != 1 || string(e.Doc) != "v1" || e.Deleted {
		t.Errorf("entry = %+v", e)
	}
	if e.Time.Location() != time.UTC || e.Time.Before(before) || e.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("time = %v, want now in UTC", e.Time)
	}
	if got := mustGet(t, s, "web"); !reflect.DeepEqual(got, e) {
		t.Errorf("get = %+v, want %+v", got, e)
	}
	snap := snapshot(t, s)
	if snap.Version != 1 || !reflect.DeepEqual(snap.Entries, []Entry{e}) {
		t.Errorf("snapshot = %+v", snap)
	}
}

func testUpdate(t *testing.T, s Store) {
	apply(t, s, put("web", "v1", Absent))
	e := apply(t, s, put("web", "v2", 1))[0]
	if e.Revision != 2 || string(e.Doc) != "v2" {
		t.Errorf("entry = %+v", e)
	}
	apply(t, s, put("web", "v3", Any))
	wantRevs(t, "history", history(t, s, "web"), "web@1:v1 web@2:v2 web@3:v3")
	if v := snapshot(t, s).Version; v != 3 {
		t.Errorf("version = %d, want 3", v)
	}
}

func testNoop(t *testing.T, s Store) {
	first := apply(t, s, put("web", "v1", Absent))[0]
	for _, match := range []int64{Any, 1} {
		e := apply(t, s, put("web", "v1", match))[0]
		if !reflect.DeepEqual(e, first) {
			t.Errorf("match %d: no-op returned %+v, want the current %+v", match, e, first)
		}
	}
	// An empty document differs from none and from another document.
	apply(t, s, put("web", "", Any))
	apply(t, s, put("web", "", 2))
	wantRevs(t, "history", history(t, s, "web"), "web@1:v1 web@2:")
	if e := mustGet(t, s, "web"); e.Doc == nil || len(e.Doc) != 0 {
		t.Errorf("empty doc read back as %#v", e.Doc)
	}
	if v := snapshot(t, s).Version; v != 2 {
		t.Errorf("version = %d, want 2: a no-op must not bump it", v)
	}
}

func testConflicts(t *testing.T, s Store) {
	apply(t, s,
		put("live", "v1", Absent), put("live", "v2", 1), // live at revision 2
		put("gone", "v1", Absent), del("gone", 1), // deleted at revision 2
	)
	tests := []struct {
		name             string
		change           Change
		expected, actual int64
		msg              string
	}{
		{"stale revision", put("live", "v3", 1), 1, 2, "expected revision 1, but the current revision is 2"},
		{"future revision", put("live", "v3", 3), 3, 2, "expected revision 3, but the current revision is 2"},
		{"absent on existing", put("live", "v3", Absent), Absent, 2, "expected absent, but the current revision is 2"},
		{"absent on existing, same doc", put("live", "v2", Absent), Absent, 2, "expected absent"},
		{"revision on never created", put("new", "v1", 1), 1, Absent, "expected revision 1, but the gateway is absent"},
		{"revision on deleted", put("gone", "v3", 1), 1, Absent, "expected revision 1, but the gateway is absent"},
		{"deletion revision on deleted", put("gone", "v3", 2), 2, Absent, "the gateway is absent"},
		{"stale delete", del("live", 1), 1, 2, "expected revision 1"},
	}
	version := snapshot(t, s).Version
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Apply(bg, []Change{tt.change})
			wantErr(t, err, ErrConflict, fmt.Sprintf("gateway %q", tt.change.Name), tt.msg)
			var ce *ConflictError
			if !errors.As(err, &ce) || ce.Name != tt.change.Name || ce.Expected != tt.expected || ce.Current != tt.actual {
				t.Errorf("conflict = %#v, want expected %d current %d", ce, tt.expected, tt.actual)
			}
			if v := snapshot(t, s).Version; v != version {
				t.Errorf("version = %d, want %d unchanged", v, version)
			}
		})
	}
	wantRevs(t, "live", history(t, s, "live"), "live@1:v1 live@2:v2")
	wantRevs(t, "gone", history(t, s, "gone"), "gone@1:v1 gone@2:deleted")
}

func testDelete(t *testing.T, s Store) {
	apply(t, s, put("web", "v1", Absent), put("api", "v1", Absent))
	e := apply(t, s, del("web", 1))[0]
	if e.Name != "web" || e.Revision != 2 || !e.Deleted || e.Doc != nil || e.Time.IsZero() {
		t.Errorf("deletion = %+v", e)
	}
	_, err := s.Get(bg, "web")
	wantErr(t, err, ErrNotFound, `gateway "web"`)
	snap := snapshot(t, s)
	wantRevs(t, "snapshot", snap.Entries, "api@1:v1")
	if snap.Version != 2 {
		t.Errorf("version = %d, want 2", snap.Version)
	}
	wantRevs(t, "history", history(t, s, "web"), "web@1:v1 web@2:deleted")
	// Deleting what is not there commits nothing, whatever the match.
	for _, c := range []Change{del("web", Any), del("web", Absent), del("never", Any), del("never", Absent)} {
		_, err := s.Apply(bg, []Change{c})
		wantErr(t, err, ErrNotFound, fmt.Sprintf("gateway %q", c.Name))
	}
	if v := snapshot(t, s).Version; v != 2 {
		t.Errorf("version = %d after no-op deletes, want 2", v)
	}
	if _, err := s.History(bg, "never"); !errors.Is(err, ErrNotFound) {
		t.Errorf("history of never-created gateway: %v", err)
	}
}

func testRecreate(t *testing.T, s Store) {
	apply(t, s, put("web", "v1", Absent))
	apply(t, s, del("web", Any))
	e := apply(t, s, put("web", "v1", Absent))[0]
	if e.Revision != 3 || e.Deleted {
		t.Errorf("re-created = %+v, want revision 3", e)
	}
	apply(t, s, del("web", 3))
	apply(t, s, put("web", "v2", Any))
	wantRevs(t, "history", history(t, s, "web"), "web@1:v1 web@2:deleted web@3:v1 web@4:deleted web@5:v2")
}

func testHistory(t *testing.T, s Store) {
	apply(t, s, put("web", "a", Absent))
	apply(t, s, put("web", "b", Any))
	apply(t, s, del("web", Any))
	h := history(t, s, "web")
	wantRevs(t, "history", h, "web@1:a web@2:b web@3:deleted")
	for _, want := range h {
		got, err := s.Revision(bg, "web", want.Revision)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("revision %d = %+v, %v; want %+v", want.Revision, got, err, want)
		}
	}
	for _, tt := range []struct {
		name string
		rev  int64
	}{{"web", 0}, {"web", 4}, {"web", -1}, {"never", 1}, {"", 1}} {
		_, err := s.Revision(bg, tt.name, tt.rev)
		wantErr(t, err, ErrNotFound, fmt.Sprintf("gateway %q revision %d", tt.name, tt.rev))
	}
	if _, err := s.Get(bg, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("get of empty name: %v", err)
	}
}

func testSlashNames(t *testing.T, s Store) {
	names := []string{"team/a/web", "team", "team/a", "team/b", "/lead", "trail/"}
	for _, n := range names {
		apply(t, s, put(n, "doc "+n, Absent))
	}
	apply(t, s, put("team/a", "v2", 1))
	wantRevs(t, "snapshot", snapshot(t, s).Entries,
		"/lead@1:doc /lead team@1:doc team team/a@2:v2 team/a/web@1:doc team/a/web team/b@1:doc team/b trail/@1:doc trail/")
	wantRevs(t, "history team/a", history(t, s, "team/a"), "team/a@1:doc team/a team/a@2:v2")
	wantRevs(t, "history team/a/web", history(t, s, "team/a/web"), "team/a/web@1:doc team/a/web")
	if _, err := s.Get(bg, "team/"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get team/: %v", err)
	}
}

func testBatch(t *testing.T, s Store) {
	apply(t, s, put("a", "a1", Absent))
	es := apply(t, s,
		put("b", "b1", Absent),
		put("a", "a2", 1),
		put("a", "a2", 2), // sees the change before it: a no-op
		put("a", "a3", 2),
		del("b", 1),
		put("c", "c1", Any),
	)
	wantRevs(t, "entries", es, "b@1:b1 a@2:a2 a@2:a2 a@3:a3 b@2:deleted c@1:c1")
	for _, e := range es[1:] {
		if !e.Time.Equal(es[0].Time) {
			t.Errorf("batch times differ: %v and %v", e.Time, es[0].Time)
		}
	}
	snap := snapshot(t, s)
	if snap.Version != 2 {
		t.Errorf("version = %d, want 2: one per batch", snap.Version)
	}
	wantRevs(t, "snapshot", snap.Entries, "a@3:a3 c@1:c1")
	if es, err := s.Apply(bg, nil); err != nil || len(es) != 0 {
		t.Errorf("empty batch = %v, %v", es, err)
	}
	if v := snapshot(t, s).Version; v != 2 {
		t.Errorf("version = %d after an empty batch, want 2", v)
	}
}

func testBatchAtomicity(t *testing.T, s Store) {
	apply(t, s, put("a", "a1", Absent))
	tests := []struct {
		name   string
		batch  []Change
		target error
		names  string
	}{
		{"conflict last", []Change{put("b", "b1", Absent), put("a", "a2", 1), put("c", "c1", 5)}, ErrConflict, `gateway "c"`},
		{"conflict first", []Change{put("a", "a2", 7), put("b", "b1", Absent)}, ErrConflict, `gateway "a"`},
		{"conflict on own earlier change", []Change{put("a", "a2", 1), put("a", "a3", 1)}, ErrConflict, "current revision is 2"},
		{"delete of absent", []Change{put("a", "a2", 1), del("zz", Any)}, ErrNotFound, `gateway "zz"`},
		{"invalid", []Change{put("a", "a2", 1), put("", "x", Any)}, ErrInvalid, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := s.Apply(bg, tt.batch)
			wantErr(t, err, tt.target, tt.names)
			if es != nil {
				t.Errorf("entries = %v on error, want nil", es)
			}
			snap := snapshot(t, s)
			if snap.Version != 1 {
				t.Errorf("version = %d, want 1 unchanged", snap.Version)
			}
			wantRevs(t, "snapshot", snap.Entries, "a@1:a1")
			wantRevs(t, "history", history(t, s, "a"), "a@1:a1")
			if _, err := s.History(bg, "b"); !errors.Is(err, ErrNotFound) {
				t.Errorf("b exists after a failed batch: %v", err)
			}
		})
	}
}

func testInvalid(t *testing.T, s Store) {
	for _, c := range []Change{
		put("", "x", Any),
		del("", Any),
		put("web", "x", -2),
		put(strings.Repeat("n", 1025), "x", Any),
	} {
		_, err := s.Apply(bg, []Change{c})
		wantErr(t, err, ErrInvalid)
	}
	apply(t, s, put(strings.Repeat("n", 1024), "x", Any))
}

func testPruning(t *testing.T, s Store) {
	const n = HistoryLimit + 5
	for i := 1; i <= n; i++ {
		apply(t, s, put("web", fmt.Sprint("v", i), Any))
	}
	h := history(t, s, "web")
	if len(h) != HistoryLimit || h[0].Revision != n-HistoryLimit+1 || h[len(h)-1].Revision != n {
		t.Fatalf("history has %d entries, revisions %d..%d; want %d..%d",
			len(h), h[0].Revision, h[len(h)-1].Revision, n-HistoryLimit+1, n)
	}
	for i, e := range h {
		if want := fmt.Sprint("v", e.Revision); string(e.Doc) != want || e.Revision != h[0].Revision+int64(i) {
			t.Fatalf("history[%d] = %s@%d, want contiguous with doc %s", i, e.Doc, e.Revision, want)
		}
	}
	if _, err := s.Revision(bg, "web", n-HistoryLimit); !errors.Is(err, ErrNotFound) {
		t.Errorf("pruned revision: %v", err)
	}
	if _, err := s.Revision(bg, "web", n-HistoryLimit+1); err != nil {
		t.Errorf("oldest kept revision: %v", err)
	}
	// Numbering survives pruning, deletion and re-creation.
	apply(t, s, del("web", n))
	if e := apply(t, s, put("web", "again", Absent))[0]; e.Revision != n+2 {
		t.Errorf("re-created at revision %d, want %d", e.Revision, n+2)
	}
	if h := history(t, s, "web"); len(h) != HistoryLimit || h[0].Revision != n+2-HistoryLimit+1 {
		t.Errorf("history has %d entries from %d", len(h), h[0].Revision)
	}
}

func testCopies(t *testing.T, s Store) {
	doc := []byte("v1")
	e := apply(t, s, Change{Name: "web", Doc: doc, Match: Absent})[0]
	doc[0] = 'X'
	e.Doc[0] = 'Y'
	got := mustGet(t, s, "web")
	got.Doc[0] = 'Z'
	snapshot(t, s).Entries[0].Doc[0] = 'W'
	history(t, s, "web")[0].Doc[0] = 'V'
	wantRevs(t, "history", history(t, s, "web"), "web@1:v1")
}

// recv reads one snapshot or fails after a deadline (no sleeps).
func recv(t *testing.T, ch <-chan Snapshot) Snapshot {
	t.Helper()
	select {
	case snap, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return snap
	case <-time.After(waitFor):
		t.Fatal("no snapshot within the deadline")
	}
	panic("unreachable")
}

// waitClosed drains ch until it is closed, or fails after a deadline.
func waitClosed(t *testing.T, ch <-chan Snapshot) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed within the deadline")
		}
	}
}

func testWatchEach(t *testing.T, s Store) {
	apply(t, s, put("a", "a1", Absent))
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	ch := s.Watch(ctx)
	if got, want := recv(t, ch), snapshot(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("initial snapshot = %+v, want %+v", got, want)
	}
	steps := []struct {
		changes []Change
		noop    bool // commits nothing, so sends nothing
	}{
		{changes: []Change{put("b", "b1", Absent)}},
		{changes: []Change{put("a", "a2", 1)}},
		{changes: []Change{put("a", "a2", Any)}, noop: true},
		{changes: []Change{del("b", Any)}},
		{changes: []Change{put("c", "c1", Absent), put("a", "a3", 2), put("d", "d1", Any)}},
		{changes: []Change{del("c", Any), del("d", Any)}},
	}
	version := int64(1)
	for _, step := range steps {
		apply(t, s, step.changes...)
		if step.noop {
			continue // had it sent a snapshot, the next receive would see an old version
		}
		version++
		got, want := recv(t, ch), snapshot(t, s)
		if got.Version != version || !reflect.DeepEqual(got, want) {
			t.Fatalf("after %+v: watch sent %+v, want %+v (version %d)", step.changes, got, want, version)
		}
	}
	wantRevs(t, "final", snapshot(t, s).Entries, "a@3:a3")
	// A second watcher starts from the current state.
	if got := recv(t, s.Watch(ctx)); got.Version != version {
		t.Errorf("second watcher's first version = %d, want %d", got.Version, version)
	}
}

func testWatchCoalesce(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	ch := s.Watch(ctx)
	if snap := recv(t, ch); snap.Version != 0 || len(snap.Entries) != 0 || snap.Entries == nil {
		t.Fatalf("initial snapshot of an empty store = %#v", snap)
	}
	// Writers must finish while nobody reads the channel.
	const n = 20
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			if _, err := s.Apply(bg, []Change{put("web", fmt.Sprint("v", i), Any)}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("writers blocked by a watcher that does not read")
	}
	// The reader gets at most one older snapshot (one already handed to the
	// channel), then the latest, never the 20 in between.
	var got []int64
	for last := int64(0); last != n; {
		snap := recv(t, ch)
		if snap.Version <= last {
			t.Fatalf("versions went %v then %d", got, snap.Version)
		}
		last = snap.Version
		got = append(got, last)
	}
	if len(got) > 2 {
		t.Errorf("slow reader got versions %v, want at most 2 snapshots", got)
	}
	want := snapshot(t, s)
	wantRevs(t, "latest", want.Entries, fmt.Sprintf("web@%d:v%d", n, n))
}

func testWatchCancel(t *testing.T, s Store) {
	apply(t, s, put("a", "a1", Absent))
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(bg)
	var chans []<-chan Snapshot
	for i := 0; i < 5; i++ {
		ch := s.Watch(ctx)
		recv(t, ch)
		chans = append(chans, ch)
	}
	apply(t, s, put("a", "a2", Any)) // leaves snapshots pending, unread
	cancel()
	for _, ch := range chans {
		waitClosed(t, ch)
	}
	// An already-cancelled context also gets a closed channel.
	waitClosed(t, s.Watch(ctx))
	deadline := time.Now().Add(waitFor)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before watching:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // poll: a goroutine's exit has no channel to wait on
	}
}

func testClose(t *testing.T, s Store) {
	apply(t, s, put("a", "a1", Absent))
	ch := s.Watch(bg)
	recv(t, ch)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ch)
	waitClosed(t, s.Watch(bg))
	_, err := s.Apply(bg, []Change{put("a", "a2", Any)})
	wantErr(t, err, ErrClosed)
	_, err = s.Snapshot(bg)
	wantErr(t, err, ErrClosed)
	_, err = s.Get(bg, "a")
	wantErr(t, err, ErrClosed)
	_, err = s.History(bg, "a")
	wantErr(t, err, ErrClosed)
	_, err = s.Revision(bg, "a", 1)
	wantErr(t, err, ErrClosed)
}

func testCancelled(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(bg)
	cancel()
	_, err := s.Apply(ctx, []Change{put("a", "a1", Any)})
	wantErr(t, err, context.Canceled)
	_, err = s.Snapshot(ctx)
	wantErr(t, err, context.Canceled)
	_, err = s.Get(ctx, "a")
	wantErr(t, err, context.Canceled)
	_, err = s.History(ctx, "a")
	wantErr(t, err, context.Canceled)
	_, err = s.Revision(ctx, "a", 1)
	wantErr(t, err, context.Canceled)
	if v := snapshot(t, s).Version; v != 0 {
		t.Errorf("version = %d after a cancelled apply, want 0", v)
	}
}

func testReasons(t *testing.T, s Store) {
	c := put("a", `{"w":1}`, Absent)
	apply(t, s, c)
	c = put("a", `{"w":2}`, 1)
	c.Reason = "policy canary: step 2/5 → 5%: canary error rate 0.00% ≤ 1%"
	apply(t, s, c)
	d := del("a", 2)
	d.Reason, d.Author = "deleted by the test", "alice"
	apply(t, s, d)
	e := put("a", `{"w":3}`, Absent)
	e.Author = "bob" // an author without a reason
	apply(t, s, e)
	h := history(t, s, "a")
	if len(h) != 4 || h[0].Reason != "" || h[1].Reason != c.Reason || h[1].Author != "" || h[2].Reason != d.Reason || h[2].Author != "alice" || !h[2].Deleted ||
		string(h[1].Doc) != `{"w":2}` || h[3].Author != "bob" || h[3].Reason != "" {
		t.Fatalf("history %+v", h)
	}
	if got, err := s.Get(bg, "a"); err != nil || got.Author != "bob" {
		t.Fatalf("get: %+v %v", got, err)
	}
}

// TestReasonSlot: an author rides in the reason a record keeps; a reason
// without one reads back as written, and so does one a turnout that knows
// no authors would show whole.
func TestReasonSlot(t *testing.T) {
	for _, c := range []struct{ reason, author string }{
		{"", ""}, {"why", ""}, {"", "alice"}, {"why: because", "bob@ops"}, {"policy canary: step", ""},
	} {
		slot := reasonSlot(c.reason, c.author)
		if r, a := splitReasonSlot(slot); r != c.reason || a != c.author {
			t.Errorf("%q by %q: slot %q reads back as %q by %q", c.reason, c.author, slot, r, a)
		}
		if c.author == "" && slot != c.reason {
			t.Errorf("%q without an author is kept as %q", c.reason, slot)
		}
	}
}
