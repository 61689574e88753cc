package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// On-disk layout (schema 1):
//
//	meta/schema            uint64 big-endian, schemaVersion
//	meta/version           int64 big-endian, the store version
//	gateways/<name>/<rev>  one bucket per gateway; rev is int64 big-endian, so
//	                       keys sort by revision and the last key is the newest
//	policies/<name>/<rev>  the same for each gateway's policy state (added to
//	                       schema 1 files that lack it when they are opened)
//
// A record is: 1 flag byte (bit 0: deleted), the commit time as int64
// big-endian Unix nanoseconds, then the document. A gateway bucket is never
// empty (pruning keeps the newest revision), so its numbering survives
// deletion and pruning.
const schemaVersion = 1

// FileName is the store file inside the data dir.
const FileName = "turnout.db"

// lockTimeout fails fast when another turnout holds the file: bbolt would
// otherwise wait forever on its flock.
const lockTimeout = 2 * time.Second

const (
	flagDeleted = 1
	flagReason  = 2
)

var (
	bucketMeta     = []byte("meta")
	bucketGateways = []byte("gateways")
	bucketPolicies = []byte("policies")
	keySchema      = []byte("schema")
	keyVersion     = []byte("version")
)

// Bolt is the embedded Store: one bbolt file. Every Apply is one bbolt write
// transaction with fsync (NoSync false), so a batch is on disk before Apply
// returns, and a crash at any point leaves the last committed batch.
type Bolt struct {
	path string
	db   *bolt.DB
	// mu serialises Apply and Close: bbolt already allows one writer, but
	// publishing to watchers under the same lock keeps versions in order.
	mu     sync.Mutex
	closed bool
	bc     *broadcaster
}

// Open opens (creating if needed) the store in dir: the file dir/turnout.db,
// dir created 0700. It fails after 2s if another process holds the file lock.
func Open(dir string) (*Bolt, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: %w (another turnout using this --data-dir?)", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Bolt{path: path, db: db}
	if err := db.Update(initSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	snap, err := s.Snapshot(context.Background())
	if err != nil {
		db.Close()
		return nil, err
	}
	s.bc = newBroadcaster(snap)
	return s, nil
}

// initSchema creates a fresh layout or checks an existing one. A newer schema
// is refused rather than guessed at: an older turnout must not rewrite it.
func initSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if tx.Bucket(bucketGateways) != nil {
			return fmt.Errorf("%w: meta bucket missing (corrupt file?)", ErrSchema)
		}
		if meta, err := tx.CreateBucket(bucketMeta); err != nil {
			return err
		} else if err := meta.Put(keySchema, u64(schemaVersion)); err != nil {
			return err
		} else if err := meta.Put(keyVersion, u64(0)); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketGateways); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketPolicies)
		return err
	}
	v := meta.Get(keySchema)
	if len(v) != 8 {
		return fmt.Errorf("%w: schema version key missing or corrupt", ErrSchema)
	}
	switch n := binary.BigEndian.Uint64(v); {
	case n > schemaVersion:
		return fmt.Errorf("%w: schema version %d is newer than this turnout supports (%d); upgrade turnout or use another --data-dir", ErrSchema, n, schemaVersion)
	case n < schemaVersion:
		return fmt.Errorf("%w: schema version %d is corrupt", ErrSchema, n)
	}
	if len(meta.Get(keyVersion)) != 8 || tx.Bucket(bucketGateways) == nil {
		return fmt.Errorf("%w: store version or gateways bucket missing (corrupt file?)", ErrSchema)
	}
	_, err := tx.CreateBucketIfNotExists(bucketPolicies)
	return err
}

// bucketOf is the top-level bucket of a kind.
func bucketOf(tx *bolt.Tx, k Kind) *bolt.Bucket {
	if k == KindPolicy {
		return tx.Bucket(bucketPolicies)
	}
	return tx.Bucket(bucketGateways)
}

// Path is the store file's path, for logs.
func (s *Bolt) Path() string { return s.path }

// fail wraps a bbolt or decoding error with the operation and the file; the
// store's own errors (conflict, not found, invalid) pass unchanged.
func (s *Bolt) fail(op string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return fmt.Errorf("store: %s: %w", op, ErrClosed)
	case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalid),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("store: %s %s: %w", op, s.path, err)
}

func (s *Bolt) Snapshot(ctx context.Context) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{Entries: []Entry{}, Policies: []Entry{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		snap.Version = int64(binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keyVersion)))
		var err error
		if snap.Entries, err = liveIn(tx, KindGateway); err != nil {
			return err
		}
		snap.Policies, err = liveIn(tx, KindPolicy)
		return err
	})
	if err != nil {
		return Snapshot{}, s.fail("snapshot", err)
	}
	return snap, nil
}

// liveIn returns the newest live entry of every name of a kind, sorted by
// name (bbolt's key order is bytewise, which is Go's string order).
func liveIn(tx *bolt.Tx, k Kind) ([]Entry, error) {
	out := []Entry{}
	b := bucketOf(tx, k)
	err := b.ForEach(func(name, _ []byte) error {
		e, err := newest(b, string(name))
		if err == nil && !e.Deleted {
			e.Kind = k
			out = append(out, e)
		}
		return err
	})
	return out, err
}

func (s *Bolt) Policy(ctx context.Context, name string) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	var e Entry
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		e, err = newest(tx.Bucket(bucketPolicies), name)
		return err
	})
	if err != nil {
		return Entry{}, s.fail("policy", err)
	}
	if e.Revision == 0 || e.Deleted {
		return Entry{}, fmt.Errorf("%s: %w", subject(KindPolicy, name), ErrNotFound)
	}
	e.Kind = KindPolicy
	return e, nil
}

func (s *Bolt) Get(ctx context.Context, name string) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	var e Entry
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		e, err = newest(tx.Bucket(bucketGateways), name)
		return err
	})
	if err != nil {
		return Entry{}, s.fail("get", err)
	}
	if e.Revision == 0 || e.Deleted {
		return Entry{}, fmt.Errorf("gateway %q: %w", name, ErrNotFound)
	}
	return e, nil
}

func (s *Bolt) History(ctx context.Context, name string) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var hist []Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		b := gatewayBucket(tx.Bucket(bucketGateways), name)
		if b == nil {
			return fmt.Errorf("gateway %q: %w", name, ErrNotFound)
		}
		return b.ForEach(func(k, v []byte) error {
			e, err := decodeRecord(name, k, v)
			hist = append(hist, e)
			return err
		})
	})
	if err != nil {
		return nil, s.fail("history", err)
	}
	return hist, nil
}

func (s *Bolt) Revision(ctx context.Context, name string, rev int64) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	var e Entry
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		var v []byte
		if b := gatewayBucket(tx.Bucket(bucketGateways), name); b != nil && rev > 0 {
			v = b.Get(u64(uint64(rev)))
		}
		if v == nil {
			return fmt.Errorf("gateway %q revision %d: %w", name, rev, ErrNotFound)
		}
		e, err = decodeRecord(name, u64(uint64(rev)), v)
		return err
	})
	if err != nil {
		return Entry{}, s.fail("revision", err)
	}
	return e, nil
}

// errNothing rolls back a transaction in which every change was a no-op:
// no fsync, no version bump.
var errNothing = errors.New("nothing to commit")

func (s *Bolt) Apply(ctx context.Context, changes []Change) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("store: apply: %w", ErrClosed)
	}
	var results, written []Entry
	var version int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		results, written, err = plan(changes, commitTime(), func(kind Kind, name string) (Entry, error) {
			e, err := newest(bucketOf(tx, kind), name)
			e.Kind = kind
			return e, err
		})
		if err != nil {
			return err
		}
		if len(written) == 0 {
			return errNothing
		}
		for _, e := range written {
			b, err := bucketOf(tx, e.Kind).CreateBucketIfNotExists([]byte(e.Name))
			if err != nil {
				return fmt.Errorf("%s: %w", subject(e.Kind, e.Name), err)
			}
			if err := b.Put(u64(uint64(e.Revision)), encodeRecord(e)); err != nil {
				return fmt.Errorf("%s revision %d: %w", subject(e.Kind, e.Name), e.Revision, err)
			}
			if err := prune(b, e.Revision); err != nil {
				return fmt.Errorf("%s: prune: %w", subject(e.Kind, e.Name), err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		version = int64(binary.BigEndian.Uint64(meta.Get(keyVersion))) + 1
		return meta.Put(keyVersion, u64(uint64(version)))
	})
	switch {
	case errors.Is(err, errNothing):
		return results, nil
	case err != nil:
		return nil, s.fail("apply", err)
	}
	s.bc.commit(version, written)
	return results, nil
}

func (s *Bolt) Watch(ctx context.Context) <-chan Snapshot {
	return s.bc.watch(ctx)
}

func (s *Bolt) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.bc.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

func gatewayBucket(gws *bolt.Bucket, name string) *bolt.Bucket {
	if name == "" {
		return nil // bbolt rejects empty bucket names; no gateway has one
	}
	return gws.Bucket([]byte(name))
}

// newest returns the newest revision of name, or a zero Entry if none.
func newest(gws *bolt.Bucket, name string) (Entry, error) {
	b := gatewayBucket(gws, name)
	if b == nil {
		return Entry{}, nil
	}
	k, v := b.Cursor().Last()
	if k == nil {
		return Entry{}, fmt.Errorf("gateway %q: no revisions (corrupt file?)", name)
	}
	return decodeRecord(name, k, v)
}

// prune drops the revisions older than the newest HistoryLimit. Kept
// revisions are contiguous, so this deletes from the first key upwards.
func prune(b *bolt.Bucket, newestRev int64) error {
	k, _ := b.Cursor().First()
	if len(k) != 8 {
		return fmt.Errorf("bad revision key %x", k)
	}
	for rev := int64(binary.BigEndian.Uint64(k)); rev <= newestRev-HistoryLimit; rev++ {
		if err := b.Delete(u64(uint64(rev))); err != nil {
			return err
		}
	}
	return nil
}

// A record is a flags byte, the commit time (8 bytes), with flagReason a
// uvarint length and the reason, then the document. Records written before
// reasons existed have no flagReason and read the same.
func encodeRecord(e Entry) []byte {
	buf := make([]byte, 9, 9+len(e.Doc)+len(e.Reason)+2)
	if e.Deleted {
		buf[0] |= flagDeleted
	}
	binary.BigEndian.PutUint64(buf[1:9], uint64(e.Time.UnixNano()))
	if e.Reason != "" {
		buf[0] |= flagReason
		buf = binary.AppendUvarint(buf, uint64(len(e.Reason)))
		buf = append(buf, e.Reason...)
	}
	return append(buf, e.Doc...)
}

// decodeRecord copies out of v: bbolt's memory is only valid in the transaction.
func decodeRecord(name string, k, v []byte) (Entry, error) {
	corrupt := fmt.Errorf("gateway %q: corrupt record %x", name, k)
	if len(k) != 8 || len(v) < 9 || v[0]&^(flagDeleted|flagReason) != 0 {
		return Entry{}, corrupt
	}
	e := Entry{
		Name:     name,
		Revision: int64(binary.BigEndian.Uint64(k)),
		Deleted:  v[0]&flagDeleted != 0,
		Time:     time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9]))).UTC(),
	}
	rest := v[9:]
	if v[0]&flagReason != 0 {
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return Entry{}, corrupt
		}
		e.Reason = string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
	}
	if e.Deleted && len(rest) != 0 {
		return Entry{}, corrupt
	}
	if !e.Deleted {
		e.Doc = append(make([]byte, 0, len(rest)), rest...)
	}
	return e, nil
}

func u64(n uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, n)
}
