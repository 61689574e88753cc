package store

import (
	"context"
	"sync"
)

// broadcaster fans committed snapshots out to watchers. It keeps only the
// latest snapshot: each watcher holds a one-slot wake-up channel, so a commit
// never blocks on a reader, and a reader that falls behind skips straight to
// the newest snapshot. Stores call commit while holding their write lock, so
// versions are published in order.
type broadcaster struct {
	mu     sync.Mutex
	cur    Snapshot // replaced on commit, never modified in place
	subs   map[*subscriber]struct{}
	closed bool
}

type subscriber struct {
	wake chan struct{} // capacity 1: one pending wake-up stands for any number of commits
	done chan struct{} // closed when the store closes
}

func newBroadcaster(initial Snapshot) *broadcaster {
	return &broadcaster{cur: cloneSnapshot(initial), subs: make(map[*subscriber]struct{})}
}

// commit publishes the state after written was committed as version.
func (b *broadcaster) commit(version int64, written []Entry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cur = advance(b.cur, version, written)
	b.wakeAll()
}

// commitOn publishes the state after written was committed as version on
// top of version prev, if watchers hold prev; otherwise (a store shared
// with other processes, whose commits came in between) the state is left
// to publish, which a re-read of the whole store feeds.
func (b *broadcaster) commitOn(prev, version int64, written []Entry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur.Version != prev {
		return
	}
	b.cur = advance(b.cur, version, written)
	b.wakeAll()
}

// publish replaces the state with snap, read whole from the store, if it is
// newer than the state watchers hold. It reports whether it was.
func (b *broadcaster) publish(snap Snapshot) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if snap.Version <= b.cur.Version {
		return false
	}
	b.cur = cloneSnapshot(snap)
	b.wakeAll()
	return true
}

// wakeAll wakes every watcher; b.mu is held.
func (b *broadcaster) wakeAll() {
	for s := range b.subs {
		select {
		case s.wake <- struct{}{}:
		default: // already woken; it will read the latest snapshot anyway
		}
	}
}

// snapshot is a copy of the state, the caller's own; false once closed.
func (b *broadcaster) snapshot() (Snapshot, bool) {
	b.mu.Lock()
	cur, closed := b.cur, b.closed
	b.mu.Unlock()
	if closed {
		return Snapshot{}, false
	}
	return cloneSnapshot(cur), true // cur is never modified in place
}

func (b *broadcaster) current() Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

// watch implements Store.Watch.
func (b *broadcaster) watch(ctx context.Context) <-chan Snapshot {
	out := make(chan Snapshot)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(out)
		return out
	}
	s := &subscriber{wake: make(chan struct{}, 1), done: make(chan struct{})}
	b.subs[s] = struct{}{}
	initial := b.cur // taken under the same lock as the subscription: no commit is missed
	b.mu.Unlock()
	go b.serve(ctx, s, out, initial)
	return out
}

func (b *broadcaster) serve(ctx context.Context, s *subscriber, out chan<- Snapshot, initial Snapshot) {
	defer close(out) // runs last: a closed channel means this goroutine is gone
	defer b.unsubscribe(s)
	next, have, held := cloneSnapshot(initial), true, initial.Version
	for {
		var send chan<- Snapshot // nil (never ready) while there is nothing new
		if have {
			send = out
		}
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-s.wake:
			// Replace an unsent snapshot too: the reader gets the latest.
			if cur := b.current(); cur.Version > held {
				next, have, held = cloneSnapshot(cur), true, cur.Version
			}
		case send <- next:
			have = false
		}
	}
}

func (b *broadcaster) unsubscribe(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, s)
}

// close ends every watch; later watches get a closed channel.
func (b *broadcaster) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for s := range b.subs {
		close(s.done)
	}
}
