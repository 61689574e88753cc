package store

import (
	"context"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func policy(name, doc string, match int64) Change {
	c := put(name, doc, match)
	c.Kind = KindPolicy
	return c
}

// A gateway's policy state has its own revisions, compare-and-set and
// deletion, independent of the gateway's, and shows in snapshots apart
// from the gateways.
func testPolicyState(t *testing.T, s Store) {
	if _, err := s.Policy(bg, "web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Policy of a gateway without one: %v, want ErrNotFound", err)
	}
	if _, err := s.Apply(bg, []Change{put("web", "gw1", Absent), policy("web", "step 1", Absent)}); err != nil {
		t.Fatal(err)
	}
	e, err := s.Policy(bg, "web")
	if err != nil || e.Kind != KindPolicy || e.Revision != 1 || string(e.Doc) != "step 1" {
		t.Fatalf("Policy: %+v %v", e, err)
	}
	// A stale write of the state is refused and names the policy state.
	_, err = s.Apply(bg, []Change{policy("web", "step 2", 2)})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Kind != KindPolicy || ce.Current != 1 {
		t.Fatalf("stale policy write: %v", err)
	}
	if want := `policy state of gateway "web": revision conflict: expected revision 2, but the current revision is 1`; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
	if _, err := s.Apply(bg, []Change{policy("web", "step 2", 1)}); err != nil {
		t.Fatal(err)
	}
	// The gateway's own revision did not move.
	if g, err := s.Get(bg, "web"); err != nil || g.Revision != 1 || g.Kind != KindGateway {
		t.Fatalf("gateway after policy writes: %+v %v", g, err)
	}
	snap, err := s.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Entries) != 1 || len(snap.Policies) != 1 || string(snap.Policies[0].Doc) != "step 2" || snap.Policies[0].Revision != 2 {
		t.Fatalf("snapshot: %+v", snap)
	}
	// Deleting the state leaves the gateway.
	if _, err := s.Apply(bg, []Change{{Kind: KindPolicy, Name: "web", Match: Any}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Policy(bg, "web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Policy after delete: %v", err)
	}
	if _, err := s.Get(bg, "web"); err != nil {
		t.Fatalf("gateway gone with its policy state: %v", err)
	}
	if _, err := s.Apply(bg, []Change{{Kind: "nonsense", Name: "web", Doc: []byte("x"), Match: Any}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown kind: %v, want ErrInvalid", err)
	}
}

// A policy step writes new weights and its state in one batch: both or
// neither, and watchers see them in one snapshot.
func testPolicyBatch(t *testing.T, s Store) {
	if _, err := s.Apply(bg, []Change{put("web", "w 100/0", Absent), policy("web", "step 0", Absent)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	w := s.Watch(ctx)
	first := <-w
	// The state's match is stale: nothing of the batch is written.
	if _, err := s.Apply(bg, []Change{put("web", "w 90/10", 1), policy("web", "step 1", 5)}); !errors.Is(err, ErrConflict) {
		t.Fatalf("batch with a stale policy state: %v", err)
	}
	if g, _ := s.Get(bg, "web"); string(g.Doc) != "w 100/0" {
		t.Fatalf("the gateway was written by a refused batch: %q", g.Doc)
	}
	if _, err := s.Apply(bg, []Change{put("web", "w 90/10", 1), policy("web", "step 1", 1)}); err != nil {
		t.Fatal(err)
	}
	select {
	case snap := <-w:
		if snap.Version != first.Version+1 || string(snap.Entries[0].Doc) != "w 90/10" || string(snap.Policies[0].Doc) != "step 1" {
			t.Fatalf("snapshot after the step: %+v", snap)
		}
	case <-time.After(waitFor):
		t.Fatal("no snapshot after the step")
	}
}

// Policy states survive a reopen, and a file written before policy states
// existed (no policies bucket) gets the bucket when it is opened.
func TestBoltPolicyStatePersists(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(bg, []Change{put("web", "gw", Absent), policy("web", "step 3", Absent)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := s.Policy(bg, "web"); err != nil || string(e.Doc) != "step 3" {
		t.Fatalf("after reopen: %+v %v", e, err)
	}
	// Drop the bucket, as in a file from before policy states.
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketPolicies) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatalf("opening a file without the policies bucket: %v", err)
	}
	defer s.Close()
	if _, err := s.Policy(bg, "web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Policy: %v", err)
	}
	if _, err := s.Apply(bg, []Change{policy("web", "step 0", Absent)}); err != nil {
		t.Fatal(err)
	}
}
