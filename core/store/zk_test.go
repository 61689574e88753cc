package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/turnout/turnout/internal/testnet"
	"github.com/turnout/turnout/internal/zktest"
)

// zkPaths numbers the stores the tests open, so that each has a path of its own.
var zkPaths atomic.Int64

func zkPath() string { return fmt.Sprintf("/turnout-test/s%d", zkPaths.Add(1)) }

// openZK opens a store on srv at path, closed when the test ends.
func openZK(t *testing.T, srv *zktest.Server, path string, mod ...func(*ZKConfig)) *ZK {
	t.Helper()
	cfg := ZKConfig{Servers: []string{srv.Addr()}, Path: path, SessionTimeout: 4 * time.Second, OpTimeout: 3 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(bg, waitFor)
	defer cancel()
	s, err := OpenZK(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// One ZooKeeper for the whole suite, a fresh path per case.
func TestZK(t *testing.T) {
	srv := zktest.Start(t)
	testStore(t, func(t *testing.T) Store { return openZK(t, srv, zkPath()) })
}

// Two agents (two sessions) racing the same If-Match: exactly one wins
// each round, the other gets the ConflictError a Bolt store would give.
func TestZKRaceSameMatch(t *testing.T) {
	srv := zktest.Start(t)
	path := zkPath()
	a, b := openZK(t, srv, path), openZK(t, srv, path)
	apply(t, a, put("web", "v0", Absent))
	for round := int64(1); round <= 20; round++ {
		start := make(chan struct{})
		type result struct {
			who string
			es  []Entry
			err error
		}
		results := make(chan result, 2)
		for who, s := range map[string]Store{"a": a, "b": b} {
			go func() {
				<-start
				es, err := s.Apply(bg, []Change{put("web", fmt.Sprintf("%s%d", who, round), round)})
				results <- result{who, es, err}
			}()
		}
		close(start)
		r1, r2 := <-results, <-results
		if (r1.err == nil) == (r2.err == nil) {
			t.Fatalf("round %d: a and b both %s: %v, %v", round, map[bool]string{true: "won", false: "lost"}[r1.err == nil], r1.err, r2.err)
		}
		win, lose := r1, r2
		if r1.err != nil {
			win, lose = r2, r1
		}
		var ce *ConflictError
		if !errors.As(lose.err, &ce) || ce.Expected != round || ce.Current != round+1 {
			t.Fatalf("round %d: loser %s: %v, want a conflict at revision %d", round, lose.who, lose.err, round+1)
		}
		if e := win.es[0]; e.Revision != round+1 || string(e.Doc) != win.who+fmt.Sprint(round) {
			t.Fatalf("round %d: winner %s got %+v", round, win.who, e)
		}
	}
	if v := snapshot(t, b).Version; v != 21 {
		t.Errorf("version = %d, want 21: one per won round", v)
	}
}

// Writers on two sessions with Match Any on one gateway: every Apply that
// was acknowledged is in the history, each at the revision it was told.
func TestZKNoAcknowledgedRevisionLost(t *testing.T) {
	srv := zktest.Start(t)
	path := zkPath()
	stores := []Store{openZK(t, srv, path), openZK(t, srv, path)}
	const writers, each = 4, 10
	acked := make(chan Entry, writers*each)
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			s := stores[w%2]
			for i := range each {
				es, err := s.Apply(bg, []Change{put("web", fmt.Sprintf("w%d-%d", w, i), Any), put(fmt.Sprintf("own-%d", w), fmt.Sprint(i), Any)})
				if err != nil {
					errs <- err
					return
				}
				acked <- es[0]
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(acked)
	h := history(t, stores[0], "web")
	if len(h) != writers*each {
		t.Fatalf("history has %d revisions, want %d", len(h), writers*each)
	}
	for e := range acked {
		if got := h[e.Revision-1]; string(got.Doc) != string(e.Doc) {
			t.Errorf("revision %d is %q, but %q was acknowledged at it", e.Revision, got.Doc, e.Doc)
		}
	}
	if v := snapshot(t, stores[1]).Version; v != writers*each {
		t.Errorf("version = %d, want %d", v, writers*each)
	}
}

// A Watch on one agent sees what another agent writes.
func TestZKWatchSeesOtherWriter(t *testing.T) {
	srv := zktest.Start(t)
	path := zkPath()
	a, b := openZK(t, srv, path), openZK(t, srv, path)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	ch := b.Watch(ctx)
	if snap := recv(t, ch); snap.Version != 0 {
		t.Fatalf("initial snapshot = %+v", snap)
	}
	apply(t, a, put("web", "v1", Absent), policy("web", `{"step":1}`, Absent))
	got := recv(t, ch)
	if want := snapshot(t, a); !reflect.DeepEqual(got, want) {
		t.Fatalf("b's watch sent %+v, want a's snapshot %+v", got, want)
	}
	apply(t, a, del("web", 1))
	if got := recv(t, ch); got.Version != 2 || len(got.Entries) != 0 {
		t.Fatalf("after the delete b's watch sent %+v", got)
	}
}

// awaitSnapshot receives from ch until ok holds for a snapshot.
func awaitSnapshot(t *testing.T, ch <-chan Snapshot, what string, ok func(Snapshot) bool) Snapshot {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case snap, open := <-ch:
			if !open {
				t.Fatalf("watch closed waiting for %s", what)
			}
			if ok(snap) {
				return snap
			}
		case <-deadline:
			t.Fatalf("no snapshot with %s within %v", what, waitFor)
		}
	}
}

// applyEventually retries an Apply that fails with ErrUnavailable (the
// client reconnecting) until it goes through.
func applyEventually(t *testing.T, s Store, c Change) Entry {
	t.Helper()
	var es []Entry
	var err error
	// go-zookeeper tells nobody when it has reconnected: poll.
	testnet.Eventually(t, 3*waitFor, "the store to take writes again", func() bool {
		es, err = s.Apply(bg, []Change{c})
		return !errors.Is(err, ErrUnavailable)
	})
	if err != nil {
		t.Fatalf("apply %+v: %v", c, err)
	}
	return es[0]
}

// ZooKeeper stopped: Apply and reads fail promptly with ErrUnavailable, a
// watch stays open; ZooKeeper back: writes go through and the watch of
// another agent resumes.
func TestZKDownAndRestart(t *testing.T) {
	srv := zktest.Start(t)
	path := zkPath()
	a, b := openZK(t, srv, path), openZK(t, srv, path)
	apply(t, a, put("web", "v1", Absent))
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	ch := b.Watch(ctx)
	awaitSnapshot(t, ch, "web@1", func(s Snapshot) bool { return s.Version == 1 })
	if since, stale := b.StaleSince(); stale {
		t.Fatalf("b stale since %v while in sync", since)
	}

	stopped := time.Now()
	srv.Stop()
	testnet.Eventually(t, waitFor, "b to say it is stale", func() bool {
		since, stale := b.StaleSince()
		return stale && !since.Before(stopped)
	})
	done := make(chan error, 1)
	go func() {
		_, err := a.Apply(bg, []Change{put("web", "v2", 1)})
		done <- err
	}()
	select {
	case err := <-done:
		wantErr(t, err, ErrUnavailable, "zookeeper")
	case <-time.After(waitFor):
		t.Fatal("apply hangs while zookeeper is down")
	}
	_, err := b.Snapshot(bg)
	wantErr(t, err, ErrUnavailable)
	_, err = b.Get(bg, "web")
	wantErr(t, err, ErrUnavailable)

	srv.Restart()
	e := applyEventually(t, a, put("web", "v2", 1))
	if e.Revision != 2 {
		t.Fatalf("after the restart: %+v", e)
	}
	awaitSnapshot(t, ch, "web@2 on b's watch", func(s Snapshot) bool {
		return len(s.Entries) == 1 && s.Entries[0].Revision == 2
	})
	if e := mustGet(t, b, "web"); e.Revision != 2 {
		t.Errorf("b reads %+v", e)
	}
	for name, s := range map[string]*ZK{"a": a, "b": b} {
		testnet.Eventually(t, waitFor, name+" to be in sync again", func() bool {
			_, stale := s.StaleSince()
			return !stale
		})
	}
}

// A client cut off until the server expires its session: once back it
// has a new session, reads everything again and its watch resumes, with
// what another agent wrote meanwhile.
func TestZKSessionExpiry(t *testing.T) {
	srv := zktest.Start(t)
	proxy := zktest.NewProxy(t, srv.Addr())
	path := zkPath()
	cfg := func(c *ZKConfig) { c.Servers = []string{proxy.Addr()}; c.SessionTimeout = 2 * time.Second }
	a, b := openZK(t, srv, path, cfg), openZK(t, srv, path)
	apply(t, a, put("web", "v1", Absent))
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	ch := a.Watch(ctx)
	awaitSnapshot(t, ch, "version 1", func(s Snapshot) bool { return s.Version == 1 })
	old := a.conn.SessionID()

	proxy.Cut()
	testnet.Eventually(t, 3*waitFor, "the server to expire a's session", func() bool { return !srv.HasSession(old) })
	apply(t, b, put("web", "v2", 1), put("api", "a1", Absent))
	_, err := a.Apply(bg, []Change{put("web", "v3", 2)})
	wantErr(t, err, ErrUnavailable)
	if _, stale := a.StaleSince(); !stale {
		t.Error("a cut off is not stale")
	}
	proxy.Restore()

	snap := awaitSnapshot(t, ch, "b's write on a's watch", func(s Snapshot) bool { return s.Version == 2 })
	wantRevs(t, "a's snapshot", snap.Entries, "api@1:a1 web@2:v2")
	if a.conn.SessionID() == old {
		t.Error("a kept its session: it was not expired")
	}
	testnet.Eventually(t, waitFor, "a to be in sync again", func() bool {
		_, stale := a.StaleSince()
		return !stale
	})
	applyEventually(t, a, put("web", "v3", 2))
	awaitSnapshot(t, b.Watch(ctx), "a's write on b", func(s Snapshot) bool { return s.Version == 3 })
}

// With a user and password, every znode of the store has a digest ACL for
// that user only: a session without them, or with others, is refused.
func TestZKDigestACL(t *testing.T) {
	srv := zktest.Start(t)
	path := zkPath()
	creds := func(user, pass string) func(*ZKConfig) {
		return func(c *ZKConfig) { c.User, c.Password = user, pass }
	}
	s := openZK(t, srv, path, creds("agent", "s3cret"))
	apply(t, s, put("web", "v1", Absent))
	// Every znode of the store, down to a revision, has the digest ACL.
	for _, p := range []string{path, path + "/version", path + "/gateways/web", path + "/gateways/web/" + revName(1)} {
		acl, _, err := s.conn.GetACL(p)
		if err != nil || len(acl) != 1 || acl[0].Scheme != "digest" || !strings.HasPrefix(acl[0].ID, "agent:") || acl[0].Perms != zk.PermAll {
			t.Errorf("ACL of %s = %+v, %v", p, acl, err)
		}
	}
	for _, c := range []func(*ZKConfig){func(*ZKConfig) {}, creds("agent", "wrong"), creds("other", "s3cret")} {
		cfg := ZKConfig{Servers: []string{srv.Addr()}, Path: path, ConnectTimeout: waitFor}
		c(&cfg)
		if s, err := OpenZK(bg, cfg); err == nil {
			s.Close()
			t.Errorf("user %q password %q: opened", cfg.User, cfg.Password)
		} else if !strings.Contains(err.Error(), "not authenticated") || strings.Contains(err.Error(), cfg.Password+"@") {
			t.Errorf("user %q: error %v", cfg.User, err)
		}
	}
	// The right user on another agent reads it.
	if e := mustGet(t, openZK(t, srv, path, creds("agent", "s3cret")), "web"); e.Revision != 1 {
		t.Errorf("second agent reads %+v", e)
	}
}

func TestZKLayout(t *testing.T) {
	srv := zktest.Start(t)
	s := openZK(t, srv, zkPath())
	raw := s.conn
	mk := func(p, data string) {
		t.Helper()
		if _, err := raw.Create(p, []byte(data), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	open := func(p string) error {
		cfg := ZKConfig{Servers: []string{srv.Addr()}, Path: p, ConnectTimeout: waitFor}
		s, err := OpenZK(bg, cfg)
		if err == nil {
			s.Close()
		}
		return err
	}
	// A path holding something else is not taken over.
	other := zkPath()
	mk(other, "")
	mk(other+"/config", "x")
	if err := open(other); err == nil || !strings.Contains(err.Error(), "not a turnout store") {
		t.Errorf("a path with other znodes: %v", err)
	}
	// An empty znode made beforehand (an operator setting its ACL) is used.
	empty := zkPath()
	mk(empty, "")
	if err := open(empty); err != nil {
		t.Errorf("an empty znode: %v", err)
	}
	// A newer layout is refused, as a newer bbolt schema is.
	newer := zkPath()
	if err := open(newer); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Set(newer+"/schema", []byte("2"), -1); err != nil {
		t.Fatal(err)
	}
	if err := open(newer); !errors.Is(err, ErrSchema) {
		t.Errorf("a newer layout: %v", err)
	}
	// Agents starting at once on a new path: one layout, all open.
	fresh := zkPath() + "/deeper/turnout"
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- open(fresh) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent open: %v", err)
		}
	}
	// A bad path never reaches ZooKeeper.
	if _, err := OpenZK(bg, ZKConfig{Servers: []string{srv.Addr()}, Path: "turnout"}); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative path: %v", err)
	}
}

// A batch ZooKeeper could not take in one transaction is refused before
// it is sent, as invalid, and nothing is committed.
func TestZKBatchTooLarge(t *testing.T) {
	srv := zktest.Start(t)
	s := openZK(t, srv, zkPath())
	big := strings.Repeat("x", 300*1000)
	_, err := s.Apply(bg, []Change{put("a", big, Any), put("b", big, Any), put("c", big, Any), put("d", big, Any)})
	wantErr(t, err, ErrInvalid, "1 MiB")
	apply(t, s, put("a", big, Any), put("b", big, Any)) // 600 kB is fine
	if v := snapshot(t, s).Version; v != 1 {
		t.Errorf("version = %d, want 1", v)
	}
}

// No ZooKeeper at the address: OpenZK gives up after ConnectTimeout with
// ErrUnavailable.
func TestZKOpenNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = OpenZK(bg, ZKConfig{Servers: []string{addr}, Path: "/turnout", ConnectTimeout: 500 * time.Millisecond})
	wantErr(t, err, ErrUnavailable, "no session within 500ms")
}

// A request cut by the connection's own failure (ZooKeeper stopping as it
// is sent) is the store being unavailable, as go-zookeeper's errors are:
// TestZKDownAndRestart met a bare "connection reset by peer" once.
func TestZKNetErrorsAreUnavailable(t *testing.T) {
	s := &ZK{}
	for _, err := range []error{
		&net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET},
		fmt.Errorf("read the store version: %w", io.EOF),
		syscall.EPIPE,
		zk.ErrConnectionClosed,
	} {
		if got := s.fail("apply", err); !errors.Is(got, ErrUnavailable) {
			t.Errorf("%v: %v, want ErrUnavailable", err, got)
		}
	}
	if got := s.fail("apply", zk.ErrNoAuth); errors.Is(got, ErrUnavailable) {
		t.Errorf("an ACL refusal is not unavailability: %v", got)
	}
}
