package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Doc is one gateway artefact or policy state with every kept revision,
// oldest first, deletions included.
type Doc struct {
	Kind      Kind
	Name      string
	Revisions []Entry
}

// Dump is the whole content of a store: every document ever created (the
// deleted ones too, so that their numbering carries over), sorted by kind
// (gateways first) and name, at one store version.
type Dump struct {
	Version int64
	Docs    []Doc
}

// ErrNotEmpty: Load was given a store that already holds something.
var ErrNotEmpty = errors.New("the destination store is not empty")

// Copier is a store whose whole content can be read and written, for
// `turnout store copy` between Bolt and ZooKeeper. Bolt, ZK and Memory are.
type Copier interface {
	Store
	// Dump reads the whole store at one version, checking every record.
	Dump(ctx context.Context) (Dump, error)
	// Load writes d into the store. A store that holds anything (a
	// version above 0) is refused with ErrNotEmpty unless replace, which
	// deletes what it holds first. The store version becomes d's, or
	// more: it never goes back, so that watchers take the new state.
	Load(ctx context.Context, d Dump, replace bool) error
}

var (
	_ Copier = (*Bolt)(nil)
	_ Copier = (*Memory)(nil)
	_ Copier = (*ZK)(nil)
)

// CopyResult counts what Copy copied.
type CopyResult struct {
	Gateways, Policies int   // documents, deleted ones included
	Conditions, Routes int   // named conditions and stored routes, deleted ones included
	Revisions          int   // revisions of every kind
	Version            int64 // the source's store version
}

// Copy copies the whole content of from into to (see Copier.Load).
func Copy(ctx context.Context, from, to Copier, replace bool) (CopyResult, error) {
	d, err := from.Dump(ctx)
	if err != nil {
		return CopyResult{}, err
	}
	if err := d.check(); err != nil {
		return CopyResult{}, err
	}
	if err := to.Load(ctx, d, replace); err != nil {
		return CopyResult{}, err
	}
	res := CopyResult{Version: d.Version}
	for _, doc := range d.Docs {
		switch doc.Kind {
		case KindPolicy:
			res.Policies++
		case KindCondition:
			res.Conditions++
		case KindRoute:
			res.Routes++
		default:
			res.Gateways++
		}
		res.Revisions += len(doc.Revisions)
	}
	return res, nil
}

// check refuses a dump that no store could have written, before anything
// is written from it.
func (d Dump) check() error {
	for _, doc := range d.Docs {
		if err := validate(Change{Kind: doc.Kind, Name: doc.Name, Match: Any}); err != nil {
			return err
		}
		if len(doc.Revisions) == 0 || len(doc.Revisions) > HistoryLimit {
			return fmt.Errorf("%s: %d revisions: %w", subject(doc.Kind, doc.Name), len(doc.Revisions), ErrInvalid)
		}
		for i, e := range doc.Revisions {
			if e.Kind != doc.Kind || e.Name != doc.Name || e.Revision < 1 || i > 0 && e.Revision <= doc.Revisions[i-1].Revision {
				return fmt.Errorf("%s: revision %d out of place: %w", subject(doc.Kind, doc.Name), e.Revision, ErrInvalid)
			}
		}
	}
	return nil
}

func sortDocs(docs []Doc) {
	slices.SortFunc(docs, func(a, b Doc) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
}

// newVersion is the store version after a Load onto a store at old.
func newVersion(old int64, d Dump, replace bool) int64 {
	if replace {
		return max(d.Version, old+1)
	}
	return d.Version
}

func (s *Bolt) Dump(ctx context.Context) (Dump, error) {
	if err := ctx.Err(); err != nil {
		return Dump{}, err
	}
	var d Dump
	err := s.db.View(func(tx *bolt.Tx) error {
		d.Version = int64(binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keyVersion)))
		for _, k := range kinds {
			top := bucketOf(tx, k)
			err := top.ForEach(func(name, _ []byte) error {
				b := top.Bucket(name)
				if b == nil {
					return fmt.Errorf("%w: %s: not a bucket", ErrDamaged, subject(k, string(name)))
				}
				doc := Doc{Kind: k, Name: string(name)}
				err := b.ForEach(func(key, v []byte) error {
					e, err := decodeRecord(k, doc.Name, key, v, true)
					doc.Revisions = append(doc.Revisions, e)
					return err
				})
				d.Docs = append(d.Docs, doc)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Dump{}, s.fail("dump", err)
	}
	sortDocs(d.Docs)
	return d, nil
}

// Load writes d in one transaction.
func (s *Bolt) Load(ctx context.Context, d Dump, replace bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("store: load: %w", ErrClosed)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		old := int64(binary.BigEndian.Uint64(meta.Get(keyVersion)))
		if old != 0 && !replace {
			return fmt.Errorf("%w: %s is at store version %d", ErrNotEmpty, s.path, old)
		}
		for _, top := range [][]byte{bucketGateways, bucketPolicies, bucketConditions, bucketRoutes} {
			if err := tx.DeleteBucket(top); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return err
			}
			if _, err := tx.CreateBucket(top); err != nil {
				return err
			}
		}
		for _, doc := range d.Docs {
			b, err := bucketOf(tx, doc.Kind).CreateBucket([]byte(doc.Name))
			if err != nil {
				return fmt.Errorf("%s: %w", subject(doc.Kind, doc.Name), err)
			}
			for _, e := range doc.Revisions {
				if err := b.Put(u64(uint64(e.Revision)), encodeRecord(e)); err != nil {
					return err
				}
			}
		}
		return meta.Put(keyVersion, u64(uint64(newVersion(old, d, replace))))
	})
	if err != nil {
		if errors.Is(err, ErrNotEmpty) {
			return err
		}
		return s.fail("load", err)
	}
	return s.republish()
}

// republish hands watchers the state read whole, after a Load; s.mu held.
func (s *Bolt) republish() error {
	snap, err := s.readSnapshot()
	if err != nil {
		return err
	}
	s.bc.publish(snap)
	return nil
}

func (m *Memory) Dump(ctx context.Context) (Dump, error) {
	if err := m.lock(ctx); err != nil {
		return Dump{}, err
	}
	defer m.mu.Unlock()
	d := Dump{Version: m.version}
	for _, k := range kinds {
		for name, revs := range m.docs(k) {
			d.Docs = append(d.Docs, Doc{Kind: k, Name: name, Revisions: cloneEntries(revs)})
		}
	}
	sortDocs(d.Docs)
	return d, nil
}

func (m *Memory) Load(ctx context.Context, d Dump, replace bool) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if m.version != 0 && !replace {
		return fmt.Errorf("%w: the memory store is at version %d", ErrNotEmpty, m.version)
	}
	m.gws, m.pols, m.conds = make(map[string][]Entry), make(map[string][]Entry), make(map[string][]Entry)
	for _, doc := range d.Docs {
		m.docs(doc.Kind)[doc.Name] = cloneEntries(doc.Revisions)
	}
	m.version = newVersion(m.version, d, replace)
	m.bc.publish(m.snapshot())
	return nil
}
