package store

import (
	"context"
	"fmt"
	"sync"
)

// Memory is a Store held in memory, for tests of other packages. It has the
// same semantics as Bolt, minus durability.
type Memory struct {
	mu      sync.Mutex
	gws     map[string][]Entry // kept revisions per gateway, oldest first; never empty
	pols    map[string][]Entry // the same for policy states
	conds   map[string][]Entry // the same for named conditions
	routes  map[string][]Entry // the same for stored routes
	version int64
	closed  bool
	bc      *broadcaster
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{
		gws:    make(map[string][]Entry),
		pols:   make(map[string][]Entry),
		conds:  make(map[string][]Entry),
		routes: make(map[string][]Entry),
		bc:     newBroadcaster(Snapshot{Entries: []Entry{}, Policies: []Entry{}, Conditions: []Entry{}, Routes: []Entry{}}),
	}
}

// lock takes the mutex unless the store is closed or ctx has ended.
func (m *Memory) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return fmt.Errorf("store: %w", ErrClosed)
	}
	return nil
}

func (m *Memory) Snapshot(ctx context.Context) (Snapshot, error) {
	if err := m.lock(ctx); err != nil {
		return Snapshot{}, err
	}
	defer m.mu.Unlock()
	return m.snapshot(), nil
}

// snapshot is the live state; m.mu held.
func (m *Memory) snapshot() Snapshot {
	return Snapshot{Version: m.version, Entries: live(m.gws), Policies: live(m.pols), Conditions: live(m.conds), Routes: live(m.routes)}
}

// live returns the current live entry of every name, sorted by name.
func live(docs map[string][]Entry) []Entry {
	out := []Entry{}
	for _, revs := range docs {
		if e := revs[len(revs)-1]; !e.Deleted {
			out = append(out, cloneEntry(e))
		}
	}
	sortEntries(out)
	return out
}

// docs returns the revisions map of a kind.
func (m *Memory) docs(k Kind) map[string][]Entry {
	switch k {
	case KindPolicy:
		return m.pols
	case KindCondition:
		return m.conds
	case KindRoute:
		return m.routes
	}
	return m.gws
}

func (m *Memory) Policy(ctx context.Context, name string) (Entry, error) {
	if err := m.lock(ctx); err != nil {
		return Entry{}, err
	}
	defer m.mu.Unlock()
	revs := m.pols[name]
	if len(revs) == 0 || revs[len(revs)-1].Deleted {
		return Entry{}, fmt.Errorf("%s: %w", subject(KindPolicy, name), ErrNotFound)
	}
	return cloneEntry(revs[len(revs)-1]), nil
}

func (m *Memory) Get(ctx context.Context, name string) (Entry, error) {
	if err := m.lock(ctx); err != nil {
		return Entry{}, err
	}
	defer m.mu.Unlock()
	revs := m.gws[name]
	if len(revs) == 0 || revs[len(revs)-1].Deleted {
		return Entry{}, fmt.Errorf("gateway %q: %w", name, ErrNotFound)
	}
	return cloneEntry(revs[len(revs)-1]), nil
}

func (m *Memory) History(ctx context.Context, name string) ([]Entry, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	revs := m.gws[name]
	if len(revs) == 0 {
		return nil, fmt.Errorf("gateway %q: %w", name, ErrNotFound)
	}
	return cloneEntries(revs), nil
}

func (m *Memory) Revision(ctx context.Context, name string, rev int64) (Entry, error) {
	if err := m.lock(ctx); err != nil {
		return Entry{}, err
	}
	defer m.mu.Unlock()
	revs := m.gws[name]
	if len(revs) > 0 {
		// Kept revisions are contiguous, so the index follows from the first.
		if i := rev - revs[0].Revision; i >= 0 && i < int64(len(revs)) {
			return cloneEntry(revs[i]), nil
		}
	}
	return Entry{}, fmt.Errorf("gateway %q revision %d: %w", name, rev, ErrNotFound)
}

func (m *Memory) Apply(ctx context.Context, changes []Change) ([]Entry, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	results, written, err := plan(changes, commitTime(), func(kind Kind, name string) (Entry, error) {
		if revs := m.docs(kind)[name]; len(revs) > 0 {
			return revs[len(revs)-1], nil
		}
		return Entry{}, nil
	})
	if err != nil || len(written) == 0 {
		return results, err
	}
	for _, e := range written {
		docs := m.docs(e.Kind)
		revs := append(docs[e.Name], e)
		if n := len(revs) - HistoryLimit; n > 0 {
			// Copy down rather than reslice so pruned docs can be collected.
			revs = append(revs[:0], revs[n:]...)
		}
		docs[e.Name] = revs
	}
	m.version++
	m.bc.commit(m.version, written)
	return results, nil
}

func (m *Memory) Watch(ctx context.Context) <-chan Snapshot {
	return m.bc.watch(ctx)
}

func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.bc.close()
	return nil
}
