package engine

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/turnout/turnout/core/gateway"
	"github.com/turnout/turnout/core/store"
)

// DocCache decodes store snapshots, decoding again only the entries that
// changed since the last one: a YAML decode costs far more than the rest of
// a change, and one change among 1,000 gateways must not decode 1,000.
// An entry is reused when its name, revision and bytes are those decoded
// before (the bytes too: a restored backup may bring back a revision
// number with other contents). The zero value is ready; safe for
// concurrent use.
//
// The gateways returned are shared with later calls: the same pointer for
// an unchanged entry, which the engine relies on to reuse the compiled
// routing table of a gateway that did not change. Callers must not modify
// them (copy first).
type DocCache struct {
	mu   sync.Mutex
	docs map[string]decodedDoc
	// decodes counts the entries decoded (not reused), for tests.
	decodes int
}

type decodedDoc struct {
	revision int64
	doc      []byte
	g        *gateway.Gateway
}

// Decode turns the live gateway entries of a snapshot into gateways, in
// order. Entries no longer in the snapshot are forgotten.
func (c *DocCache) Decode(entries []store.Entry) ([]*gateway.Gateway, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[string]decodedDoc, len(entries))
	gws := make([]*gateway.Gateway, 0, len(entries))
	for _, en := range entries {
		d, ok := c.docs[en.Name]
		if !ok || d.revision != en.Revision || !bytes.Equal(d.doc, en.Doc) {
			g, err := gateway.DecodeOne(en.Doc, "")
			if err != nil {
				return nil, fmt.Errorf("stored gateway %q revision %d: %w", en.Name, en.Revision, err)
			}
			c.decodes++
			d = decodedDoc{revision: en.Revision, doc: en.Doc, g: g}
		}
		next[en.Name] = d
		gws = append(gws, d.g)
	}
	c.docs = next
	return gws, nil
}
