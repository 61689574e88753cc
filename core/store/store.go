// Package store keeps turnout's desired state: one opaque document per
// gateway (the artefact's canonical encoding) and, for gateways driven by a
// routing policy, one policy-state document, each with a numbered history of
// revisions, and a store-wide version.
//
// Bolt (an embedded bbolt file) is the default; ZK (ZooKeeper) is shared by
// the agents of a cluster; Memory is for tests of other packages. All three
// implement Store with the same semantics, enforced by one conformance test,
// which is why the interface speaks in revisions (compare-and-set) and
// snapshots (watch) rather than in transactions.
//
// Semantics shared by every implementation:
//   - Every committed change to a gateway is a new revision 1, 2, 3, ... of
//     that gateway. A deletion is a revision too (Deleted, Doc nil), so
//     re-creating a gateway continues its numbering: revisions are never reused.
//   - Putting a document byte-identical to the current live one is a no-op
//     (no revision, no version bump), so applying the same file twice is
//     idempotent.
//   - Deleting an absent or deleted gateway returns ErrNotFound and commits
//     nothing.
//   - Apply is atomic: a batch commits all its changes or none. The store
//     version increases by one per committed Apply (whatever the number of
//     gateways it touched) and is unchanged by an Apply that changed nothing.
//   - History is bounded: the newest HistoryLimit revisions of each gateway are
//     kept; older ones are pruned in the commit that adds a new one.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// HistoryLimit is the number of revisions kept per gateway, the newest ones.
// It bounds the file's growth under a canary policy that rewrites weights every
// few seconds, while keeping enough history to roll back by hand.
const HistoryLimit = 100

// Kind separates the documents the store keeps per gateway: the gateway
// artefact itself, and the state of its routing policy (the canary's step,
// its last decision, ...). Both follow the same revision and compare-and-set
// rules, so a policy can write a gateway's new weights and its own state in
// one atomic batch.
type Kind string

const (
	// KindGateway is the zero value: a gateway artefact.
	KindGateway Kind = ""
	// KindPolicy is a gateway's policy state.
	KindPolicy Kind = "policy"
	// KindCondition is a named condition (Vamp's /api/v1/conditions): its
	// own document, independent of the gateways whose routes reference it
	// (they hold the text they resolved to, so deleting a gateway leaves
	// the condition, and the engine never looks one up).
	KindCondition Kind = "condition"
	// KindRoute is a stored route (Vamp's /api/v1/routes): route fields
	// with a name, which gateways' routes reference; like a condition, each
	// gateway holds a copy of what its reference resolved to.
	KindRoute Kind = "route"
)

// kinds is every Kind, in the order dumps and checks walk them.
var kinds = []Kind{KindGateway, KindPolicy, KindCondition, KindRoute}

// Entry is one revision of one gateway's artefact or policy state.
type Entry struct {
	Kind     Kind
	Name     string
	Revision int64  // per gateway, 1, 2, 3, ... never reused, also across delete and re-create
	Doc      []byte // nil for a deletion
	Deleted  bool
	Time     time.Time // commit time (UTC); every entry of one Apply has the same time
	// Reason says why the revision was made, when its writer said (a
	// policy's decision with its figures, say); "" otherwise.
	Reason string
	// Author is who made a manual change (the API token's name); "" for
	// changes turnout made itself (a policy) or when no one said.
	Author string
}

// Snapshot is the whole desired state at one store version.
type Snapshot struct {
	Version int64   // store-wide, increases by one per committed Apply
	Entries []Entry // the current revision of every live (not deleted) gateway, sorted by name; never nil
	// Policies holds the current policy state of every gateway that has one
	// (live, not deleted), sorted by name; never nil.
	Policies []Entry
	// Conditions holds the current revision of every live named condition,
	// sorted by name; never nil.
	Conditions []Entry
	// Routes holds the current revision of every live stored route, sorted
	// by name; never nil.
	Routes []Entry
}

var (
	// ErrNotFound: the gateway (or revision) does not exist, was deleted, or was pruned.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a Change's Match failed. The error is a *ConflictError.
	ErrConflict = errors.New("revision conflict")
	// ErrInvalid: a Change is malformed (empty name, Match below Any).
	ErrInvalid = errors.New("invalid change")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrLocked: another process holds the store file (Open waited 2s).
	ErrLocked = errors.New("timeout waiting for the file lock")
	// ErrSchema: the store file has a schema newer than this build knows.
	ErrSchema = errors.New("unsupported store schema")
	// ErrDamaged: the store file is damaged: empty, truncated, garbled,
	// failing bbolt's consistency check, holding a record whose checksum
	// does not match, or missing where a store was (see MarkerFile). The
	// store refuses to open it rather than serve it or start empty.
	ErrDamaged = errors.New("damaged")
)

// Match values for Change.Match: Any (no check), Absent (the gateway must be
// absent or deleted), or a positive revision (the gateway must be live at
// exactly that revision: If-Match).
const (
	Any    int64 = -1
	Absent int64 = 0
)

// Change is one write of a batch given to Apply.
type Change struct {
	Kind  Kind // KindGateway (the zero value), KindPolicy, KindCondition or KindRoute
	Name  string
	Doc   []byte // nil = delete; an empty non-nil slice is an (empty) document
	Match int64  // Any, Absent or the current revision required
	// Reason and Author are kept with the new revision (see Entry).
	Reason string
	Author string
}

// ConflictError is the error of a failed Match; errors.Is(err, ErrConflict)
// holds. Current lets the API answer 412 with the revision the client missed.
type ConflictError struct {
	Kind     Kind
	Name     string
	Expected int64 // the Match given: Absent or a revision
	Current  int64 // the current live revision, or Absent if the gateway is absent or deleted
}

func (e *ConflictError) Error() string {
	want := "absent"
	if e.Expected != Absent {
		want = fmt.Sprintf("revision %d", e.Expected)
	}
	got := "the gateway is absent"
	switch e.Kind {
	case KindCondition:
		got = "the condition is absent"
	case KindRoute:
		got = "the stored route is absent"
	}
	if e.Current != Absent {
		got = fmt.Sprintf("the current revision is %d", e.Current)
	}
	return fmt.Sprintf("%s: %v: expected %s, but %s", subject(e.Kind, e.Name), ErrConflict, want, got)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// Store is the desired-state store. All methods are safe for concurrent use.
// Entries and snapshots returned are the caller's own copies.
type Store interface {
	// Snapshot returns every live gateway at the current version.
	Snapshot(ctx context.Context) (Snapshot, error)
	// Get returns the current live revision; ErrNotFound if absent or deleted.
	Get(ctx context.Context, name string) (Entry, error)
	// History returns all kept revisions, oldest first, deletions included;
	// ErrNotFound if the gateway never existed.
	History(ctx context.Context, name string) ([]Entry, error)
	// Revision returns one kept revision; ErrNotFound if unknown or pruned.
	Revision(ctx context.Context, name string, rev int64) (Entry, error)
	// Policy returns the current policy state of a gateway; ErrNotFound if
	// it has none (or it was deleted). Get, History and Revision are about
	// gateway artefacts; policy states are written with Apply (Kind
	// KindPolicy) and read here and in snapshots.
	Policy(ctx context.Context, name string) (Entry, error)
	// Apply commits a batch atomically: all changes or none (a multi-gateway
	// `apply -f`). Each change has its own Match and sees the changes before
	// it in the batch. It returns one entry per change, in order: the new
	// revision, or the current one for a no-op. The batch is durable when
	// Apply returns nil. A *ConflictError or ErrNotFound names the gateway.
	Apply(ctx context.Context, changes []Change) ([]Entry, error)
	// Watch sends the current snapshot at once and then a whole new snapshot
	// after every committed change, until ctx ends or the store is closed;
	// then it closes the channel. It coalesces: a slow reader gets the latest
	// snapshot, never a stale one, and never blocks writers.
	Watch(ctx context.Context) <-chan Snapshot
	// Close releases the store; watch channels are closed. Idempotent.
	Close() error
}

var (
	_ Store = (*Bolt)(nil)
	_ Store = (*Memory)(nil)
)

// subject names what an entry is about, for messages.
func subject(k Kind, name string) string {
	switch k {
	case KindPolicy:
		return fmt.Sprintf("policy state of gateway %q", name)
	case KindCondition:
		return fmt.Sprintf("condition %q", name)
	case KindRoute:
		return fmt.Sprintf("stored route %q", name)
	}
	return fmt.Sprintf("gateway %q", name)
}
