package events

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of New's sizes.
const (
	DefaultHistory = 1000
	DefaultBuffer  = 256
)

// Bus keeps the newest events in a ring and fans each new one out to the
// subscribers whose filter it matches. Safe for concurrent use; the zero
// value is not usable, call New.
type Bus struct {
	mu     sync.Mutex
	ring   []*Event // len == history; ring[(head+i)%len] is the i-th oldest
	head   int
	n      int
	last   uint64 // the newest id given
	subs   map[*Subscription]struct{}
	buffer int
	closed bool
	now    func() time.Time
}

// New is a bus keeping the newest history events for resumption, whose
// subscribers may fall buffer events behind before they are dropped
// (zero: the defaults).
func New(history, buffer int) *Bus {
	if history <= 0 {
		history = DefaultHistory
	}
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	// Ids go on from the start time in microseconds: a run's ids are above
	// any of the run before, so that a reader resuming across a restart
	// with an old id is told it lost events instead of skipping new ones.
	return &Bus{ring: make([]*Event, history), subs: map[*Subscription]struct{}{}, buffer: buffer, now: time.Now,
		last: uint64(time.Now().UnixMicro())}
}

// Publish gives e the next id (and the time, if unset), keeps it, and
// hands it to every matching subscriber without waiting: one whose buffer
// is full is dropped. A nil bus discards, so publishers need not check.
func (b *Bus) Publish(e Event) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.last++
	e.ID = b.last
	if e.Time.IsZero() {
		e.Time = b.now().UTC()
	}
	e.encoded = encode(&e)
	ev := &e
	if b.n == len(b.ring) {
		b.ring[b.head] = ev
		b.head = (b.head + 1) % len(b.ring)
	} else {
		b.ring[(b.head+b.n)%len(b.ring)] = ev
		b.n++
	}
	for s := range b.subs {
		if !s.filter.Match(ev) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			// Never wait for a reader: the engine and the policies publish.
			s.dropped.Store(true)
			b.remove(s)
		}
	}
}

// remove ends a subscription; b.mu is held.
func (b *Bus) remove(s *Subscription) {
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
	}
}

// Subscribers is how many subscriptions are open.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Last is the id of the newest event published (or the one before the
// first, none yet).
func (b *Bus) Last() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// Subscribe starts a subscription to the events matching f. With resume,
// backlog is the kept events after the id after that match f, oldest first,
// and lost says that some after it are no longer kept (or that after is
// not an id of this bus: a previous run's); backlog is then everything
// kept; after 0 asks for everything kept. Without resume, the
// subscription starts with the next event.
func (b *Bus) Subscribe(f Filter, after uint64, resume bool) (s *Subscription, backlog []*Event, lost bool) {
	s = &Subscription{filter: f, ch: make(chan *Event, b.buffer), bus: b}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(s.ch)
		return s, nil, false
	}
	b.subs[s] = struct{}{}
	if !resume {
		return s, nil, false
	}
	oldest := b.last + 1 // with nothing kept, the next
	if b.n > 0 {
		oldest = b.ring[b.head].ID
	}
	// 0 asks for everything kept: no id of a run is that low.
	if after != 0 && (after > b.last || after+1 < oldest) {
		lost, after = true, 0
	}
	for i := range b.n {
		e := b.ring[(b.head+i)%len(b.ring)]
		if e.ID > after && f.Match(e) {
			backlog = append(backlog, e)
		}
	}
	return s, backlog, lost
}

// Close ends every subscription (not as dropped); later publishes are
// discarded and later subscriptions end at once.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		b.remove(s)
	}
}

// Subscription is one reader's feed of events.
type Subscription struct {
	filter  Filter
	ch      chan *Event
	dropped atomic.Bool
	bus     *Bus
}

// C delivers the events in id order; it is closed when the subscription
// ends: Close, the bus closed, or the reader dropped (Dropped).
func (s *Subscription) C() <-chan *Event { return s.ch }

// Dropped says that the subscription ended because its reader fell behind.
func (s *Subscription) Dropped() bool { return s.dropped.Load() }

// Close ends the subscription. Idempotent.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	s.bus.remove(s)
}

// Filter selects events: by gateway name and by type or category ("policy"
// matches "policy.decision"). An empty list selects all.
type Filter struct {
	Gateways []string
	Types    []string
}

// Match reports whether e passes the filter. An event about no gateway (a
// plugin crash) passes a gateway filter only if it has no gateway at all:
// a watcher of one gateway wants to know that a plugin it may use died.
func (f Filter) Match(e *Event) bool {
	if len(f.Gateways) > 0 && e.Gateway != "" && !slices.Contains(f.Gateways, e.Gateway) {
		return false
	}
	if len(f.Types) == 0 {
		return true
	}
	return slices.Contains(f.Types, string(e.Type)) || slices.Contains(f.Types, e.Type.Category())
}

// ValidType reports whether s names a type or a category of one.
func ValidType(s string) bool {
	for _, t := range Types {
		if string(t) == s || t.Category() == s {
			return true
		}
	}
	return false
}
