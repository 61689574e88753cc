package events

import (
	"context"
	"log/slog"

	"github.com/turnout/turnout/core/store"
)

// WatchStore publishes a gateway event for every revision committed to st
// after the watch starts, until ctx ends or the store closes. It follows
// the store's watch, not the API, so every agent sharing a store (a
// cluster) publishes every change, whoever wrote it. The watch coalesces
// snapshots; revisions it skipped are read from the history, so that none
// is missed.
func WatchStore(ctx context.Context, st store.Store, bus *Bus, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// seen is the newest revision published (or found at the start) of
	// every gateway, deleted ones included; live says which are live.
	seen := map[string]int64{}
	live := map[string]bool{}
	first := true
	for snap := range st.Watch(ctx) {
		now := make(map[string]bool, len(snap.Entries))
		for _, e := range snap.Entries {
			now[e.Name] = true
			last, known := seen[e.Name]
			switch {
			case first:
				seen[e.Name] = e.Revision
			case !known:
				// A gateway this watch never saw: its current revision
				// alone, not a history from before the watch.
				publishEntry(bus, e, false)
				seen[e.Name] = e.Revision
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
		live, first = now, false
	}
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
