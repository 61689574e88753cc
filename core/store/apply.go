package store

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"time"
)

// This file holds the semantics of Apply shared by every implementation, so
// that Bolt and Memory (and later ZooKeeper) cannot decide differently.

// lookupFunc returns the newest kept revision of a gateway, deleted or not,
// or a zero Entry (Revision 0) if the gateway never existed. The entry is
// only read.
type lookupFunc func(kind Kind, name string) (Entry, error)

// plan decides a batch against the stored state. results has one entry per
// change (the caller's copies); written holds the new revisions to store, in
// order. Nothing is stored by plan, so an error leaves the state untouched.
func plan(changes []Change, now time.Time, lookup lookupFunc) (results, written []Entry, err error) {
	// Later changes of a batch see the earlier ones, so one batch may touch a
	// gateway twice.
	type key struct {
		kind Kind
		name string
	}
	latest := make(map[key]Entry)
	results = make([]Entry, 0, len(changes))
	for _, c := range changes {
		if err := validate(c); err != nil {
			return nil, nil, err
		}
		k := key{c.Kind, c.Name}
		last, ok := latest[k]
		if !ok {
			if last, err = lookup(c.Kind, c.Name); err != nil {
				return nil, nil, err
			}
		}
		e, changed, err := decide(c, last, now)
		if err != nil {
			return nil, nil, err
		}
		if changed {
			latest[k] = e
			written = append(written, e)
		}
		results = append(results, cloneEntry(e))
	}
	return results, written, nil
}

func validate(c Change) error {
	if c.Name == "" {
		return fmt.Errorf("gateway name is empty: %w", ErrInvalid)
	}
	// bbolt keys are limited to 32 KiB; a name is far shorter in practice.
	if len(c.Name) > 1024 {
		return fmt.Errorf("gateway name %.40q...: longer than 1024 bytes: %w", c.Name, ErrInvalid)
	}
	if !slices.Contains(kinds, c.Kind) {
		return fmt.Errorf("gateway %q: unknown kind %q: %w", c.Name, c.Kind, ErrInvalid)
	}
	if c.Match < Any {
		return fmt.Errorf("gateway %q: match %d: %w", c.Name, c.Match, ErrInvalid)
	}
	return nil
}

// decide applies one change to the newest revision last (zero if none).
func decide(c Change, last Entry, now time.Time) (e Entry, changed bool, err error) {
	live := last.Revision > 0 && !last.Deleted
	current := Absent
	if live {
		current = last.Revision
	}
	if c.Match != Any && c.Match != current {
		return Entry{}, false, &ConflictError{Kind: c.Kind, Name: c.Name, Expected: c.Match, Current: current}
	}
	if c.Doc == nil {
		if !live {
			return Entry{}, false, fmt.Errorf("%s: %w", subject(c.Kind, c.Name), ErrNotFound)
		}
		return Entry{Kind: c.Kind, Name: c.Name, Revision: last.Revision + 1, Deleted: true, Time: now, Reason: c.Reason, Author: c.Author}, true, nil
	}
	if live && bytes.Equal(last.Doc, c.Doc) {
		return last, false, nil
	}
	// Clone: the caller may reuse its buffer after Apply returns.
	return Entry{Kind: c.Kind, Name: c.Name, Revision: last.Revision + 1, Doc: bytes.Clone(c.Doc), Time: now, Reason: c.Reason, Author: c.Author}, true, nil
}

// commitTime is the time stamped on a batch: UTC, without a monotonic reading
// and at the nanosecond precision stored on disk, so an entry read back
// equals the one Apply returned.
func commitTime() time.Time {
	return time.Unix(0, time.Now().UnixNano()).UTC()
}

// advance returns the snapshot after written was committed as version.
// prev is not modified.
func advance(prev Snapshot, version int64, written []Entry) Snapshot {
	return Snapshot{
		Version:  version,
		Entries:  merge(prev.Entries, written, KindGateway),
		Policies: merge(prev.Policies, written, KindPolicy),
		// prev.Conditions is nil in a snapshot made before conditions
		// existed; merge returns a non-nil slice either way.
		Conditions: merge(prev.Conditions, written, KindCondition),
		Routes:     merge(prev.Routes, written, KindRoute),
	}
}

// merge returns the live entries of one kind after written: prev's, replaced
// or removed by the newest written revision of the same name.
func merge(prev, written []Entry, kind Kind) []Entry {
	final := make(map[string]Entry, len(written))
	for _, e := range written {
		if e.Kind == kind {
			final[e.Name] = e // the last revision in the batch wins
		}
	}
	next := make([]Entry, 0, len(prev)+len(final))
	for _, e := range prev {
		if _, ok := final[e.Name]; !ok {
			next = append(next, e)
		}
	}
	for _, e := range final {
		if !e.Deleted {
			next = append(next, cloneEntry(e))
		}
	}
	sortEntries(next)
	return next
}

func sortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
}

func cloneEntry(e Entry) Entry {
	e.Doc = bytes.Clone(e.Doc) // keeps nil as nil and empty as empty
	return e
}

func cloneEntries(es []Entry) []Entry {
	out := make([]Entry, len(es))
	for i, e := range es {
		out[i] = cloneEntry(e)
	}
	return out
}

func cloneSnapshot(s Snapshot) Snapshot {
	return Snapshot{Version: s.Version, Entries: cloneEntries(s.Entries), Policies: cloneEntries(s.Policies), Conditions: cloneEntries(s.Conditions), Routes: cloneEntries(s.Routes)}
}
