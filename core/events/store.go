package events

import (
	"context"
	"log/slog"
	"time"

	"github.com/turnout/turnout/core/store"
)

// WatchStore publishes a gateway event for every revision committed to st
// after it returns, until ctx ends or the store closes; then the channel
// it returns is closed. It follows
// the store's watch, not the API, so every agent sharing a store (a
// cluster) publishes every change, whoever wrote it. The watch coalesces
// snapshots; revisions it skipped are read from the history, so that none
// is missed.
func WatchStore(ctx context.Context, st store.Store, bus *Bus, log *slog.Logger) <-chan struct{} {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The baseline is read before the watch starts: a watch's first
	// snapshot may already hold later commits, which must be published.
	start := time.Now()
	base, err := st.Snapshot(ctx)
	snaps := st.Watch(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err != nil {
			// Without a baseline, the watch's first snapshot is it.
			log.Warn("event stream: cannot read the store; gateway events start with its next change", "err", err)
			first, ok := <-snaps
			if !ok {
				return
			}
			base = first
		}
		followStore(ctx, st, start, base, snaps, bus, log)
	}()
	return done
}

func followStore(ctx context.Context, st store.Store, start time.Time, base store.Snapshot, snaps <-chan store.Snapshot, bus *Bus, log *slog.Logger) {
	// seen is the newest revision published (or found at the start) of
	// every gateway, deleted ones included; live says which are live.
	seen := map[string]int64{}
	live := map[string]bool{}
	for _, e := range base.Entries {
		seen[e.Name], live[e.Name] = e.Revision, true
	}
	for snap := range snaps {
		now := make(map[string]bool, len(snap.Entries))
		for _, e := range snap.Entries {
			now[e.Name] = true
			last, known := seen[e.Name]
			switch {
			case !known:
				// A gateway this watch never saw: its revisions committed
				// since the watch started (by their commit time: a history
				// from before is not news), the current one at least.
				seen[e.Name] = catchUp(ctx, st, bus, log, e.Name, sinceStart(ctx, st, e, start), false, e)
			case e.Revision == last+1:
				publishEntry(bus, e, live[e.Name])
				seen[e.Name] = e.Revision
			case e.Revision > last:
				seen[e.Name] = catchUp(ctx, st, bus, log, e.Name, last, live[e.Name], e)
			}
		}
		for name := range live {
			if !now[name] {
				seen[name] = catchUp(ctx, st, bus, log, name, seen[name], true, store.Entry{})
			}
		}
		live = now
	}
}

// sinceStart is the revision of a gateway new to the watch to publish
// from: the one before its first committed after start, or before its
// current one.
func sinceStart(ctx context.Context, st store.Store, cur store.Entry, start time.Time) int64 {
	hist, err := st.History(ctx, cur.Name)
	if err != nil {
		return cur.Revision - 1
	}
	for _, e := range hist {
		if !e.Time.Before(start) {
			return min(e.Revision, cur.Revision) - 1
		}
	}
	return cur.Revision - 1
}

// catchUp publishes the revisions of name after last from its history;
// wasLive says whether revision last was live. If the history cannot be
// read, it publishes cur alone (or a deletion without its revision, for a
// zero cur). It returns the newest revision published.
func catchUp(ctx context.Context, st store.Store, bus *Bus, log *slog.Logger, name string, last int64, wasLive bool, cur store.Entry) int64 {
	hist, err := st.History(ctx, name)
	if err != nil {
		log.Warn("event stream: cannot read a gateway's history; publishing its current state alone", "gateway", name, "err", err)
		if cur.Name == "" {
			bus.Publish(Event{Type: GatewayDeleted, Gateway: name})
			return last
		}
		publishEntry(bus, cur, wasLive)
		return cur.Revision
	}
	for _, e := range hist {
		if e.Revision <= last {
			continue
		}
		if cur.Name != "" && e.Revision > cur.Revision {
			break // a later snapshot brings them
		}
		publishEntry(bus, e, wasLive)
		wasLive, last = !e.Deleted, e.Revision
	}
	return last
}

// publishEntry publishes one revision; wasLive says whether the revision
// before it was live (a change) or not (a creation).
func publishEntry(bus *Bus, e store.Entry, wasLive bool) {
	t := GatewayChanged
	switch {
	case e.Deleted:
		t = GatewayDeleted
	case !wasLive:
		t = GatewayCreated
	}
	bus.Publish(Event{Type: t, Gateway: e.Name, Revision: e.Revision, Reason: e.Reason, Author: e.Author, Time: e.Time})
}
