package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// On-disk layout (schema 2):
//
//	meta/schema            uint64 big-endian, schemaVersion
//	meta/version           int64 big-endian, the store version
//	gateways/<name>/<rev>  one bucket per gateway; rev is int64 big-endian, so
//	                       keys sort by revision and the last key is the newest
//	policies/<name>/<rev>  the same for each gateway's policy state
//	conditions/<name>/<rev> the same for each named condition; a file made
//	                       before conditions lacks the bucket, which Open
//	                       creates (the schema stays 2: an older turnout
//	                       opens the file and ignores the bucket)
//	routes/<name>/<rev>    the same for each stored route, added as
//	                       conditions were
//
// A record is: 1 flag byte (bit 0: deleted, bit 1: a reason follows), the
// commit time as int64 big-endian Unix nanoseconds, the record's CRC-32C
// (Castagnoli, 4 bytes big-endian; see recordSum), with flagReason a uvarint
// length and the reason, then the document. An author rides in the reason
// (see reasonSlot), so that a turnout that knows no authors still reads
// every record: it shows the author with the reason. A gateway bucket is never empty
// (pruning keeps the newest revision), so its numbering survives deletion and
// pruning.
//
// Schema 1 (turnout before checksums) is the same without the CRC; Open
// migrates it to schema 2 in one transaction, after checking it, so that in
// a schema-2 file a record without a valid CRC is damage, never an old
// record. A schema-1 turnout refuses a schema-2 file as newer.
const schemaVersion = 2

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
	bucketMeta       = []byte("meta")
	bucketGateways   = []byte("gateways")
	bucketPolicies   = []byte("policies")
	bucketConditions = []byte("conditions")
	bucketRoutes     = []byte("routes")
	keySchema        = []byte("schema")
	keyVersion       = []byte("version")
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
	opened Opened
}

// Opened says how Open found the store, for the log.
type Opened struct {
	// Created: there was no store file, the store starts empty.
	Created bool
	// Migrated: the file was schema 1; every record has its checksum now.
	Migrated bool
	// Check is what the check of an existing file found (nil if Created);
	// its Warnings are wrong but harmless to serve.
	Check *Report
}

// Open opens (creating if needed) the store in dir: the file dir/turnout.db,
// dir created 0700. It fails after 2s if another process holds the file lock.
//
// An existing file is checked before anything is read from it (see Check):
// a damaged one is refused with an error wrapping ErrDamaged, never served
// in part and never taken for a new store; so is a missing file where
// MarkerFile says a store was. Only a data dir that never held a store
// starts empty.
func Open(dir string) (*Bolt, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	var db *bolt.DB
	var opened Opened
	switch _, err := os.Stat(path); {
	case errors.Is(err, fs.ErrNotExist):
		if err := missing(dir); err != nil {
			return nil, err
		}
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, lockedError(path)
		}
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
		opened.Created = true
	case err != nil:
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	default:
		if db, opened.Check, err = openChecked(path, false); err != nil {
			return nil, err
		}
		opened.Migrated = opened.Check.Schema == 1
	}
	s := &Bolt{path: path, db: db, opened: opened}
	if err := db.Update(initSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := writeMarker(dir); err != nil {
		db.Close()
		return nil, err
	}
	snap, err := s.readSnapshot()
	if err != nil {
		db.Close()
		return nil, err
	}
	s.bc = newBroadcaster(snap)
	return s, nil
}

// Opened says how Open found the store.
func (s *Bolt) Opened() Opened { return s.opened }

func lockedError(path string) error {
	return fmt.Errorf("store: open %s: %w (another turnout using this --data-dir?)", path, ErrLocked)
}

// initSchema creates a fresh layout, or completes an existing one (checked
// by openChecked) and migrates it from schema 1. A newer schema is refused
// rather than guessed at: an older turnout must not rewrite it.
func initSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if tx.Bucket(bucketGateways) != nil {
			return fmt.Errorf("%w: meta bucket missing", ErrDamaged)
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
		if _, err := tx.CreateBucket(bucketPolicies); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketConditions); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketRoutes)
		return err
	}
	n, err := schemaOf(meta)
	if err != nil && !errors.Is(err, ErrSchema) {
		return fmt.Errorf("%w: %v", ErrDamaged, err)
	} else if err != nil {
		return err
	}
	if len(meta.Get(keyVersion)) != 8 || tx.Bucket(bucketGateways) == nil {
		return fmt.Errorf("%w: store version or gateways bucket missing", ErrDamaged)
	}
	for _, b := range [][]byte{bucketPolicies, bucketConditions, bucketRoutes} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	if n == 1 {
		return migrate1(tx)
	}
	return nil
}

// schemaOf reads the schema version: 1 or 2; newer is ErrSchema, any other
// error says what is damaged.
func schemaOf(meta *bolt.Bucket) (uint64, error) {
	v := meta.Get(keySchema)
	if len(v) != 8 {
		return 0, errors.New("schema version key missing or corrupt")
	}
	switch n := binary.BigEndian.Uint64(v); {
	case n > schemaVersion:
		return n, fmt.Errorf("%w: schema version %d is newer than this turnout supports (%d); upgrade turnout or use another --data-dir", ErrSchema, n, schemaVersion)
	case n < 1:
		return n, fmt.Errorf("schema version %d is corrupt", n)
	default:
		return n, nil
	}
}

// migrate1 gives every record of a schema-1 file its checksum and makes the
// file schema 2, in the transaction that opens it.
func migrate1(tx *bolt.Tx) error {
	type rec struct {
		b        *bolt.Bucket
		key, val []byte
	}
	var recs []rec
	for _, k := range kinds {
		top := bucketOf(tx, k)
		if top == nil {
			continue // conditions, routes: created after the migration
		}
		err := top.ForEach(func(name, _ []byte) error {
			b := top.Bucket(name)
			if b == nil {
				return fmt.Errorf("%w: %s: not a bucket", ErrDamaged, subject(k, string(name)))
			}
			return b.ForEach(func(key, v []byte) error {
				e, err := decodeRecord(k, string(name), key, v, false)
				if err != nil {
					return err
				}
				// Keys point into the map, which a Put may move: copy.
				recs = append(recs, rec{b, append([]byte(nil), key...), encodeRecord(e)})
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("migrate to schema %d: %w", schemaVersion, err)
		}
	}
	for _, r := range recs {
		if err := r.b.Put(r.key, r.val); err != nil {
			return fmt.Errorf("migrate to schema %d: %w", schemaVersion, err)
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchema, u64(schemaVersion))
}

// bucketOf is the top-level bucket of a kind.
func bucketOf(tx *bolt.Tx, k Kind) *bolt.Bucket {
	return tx.Bucket(bucketName(k))
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

// Snapshot serves the state watchers hold: it is the file's, published
// under the write lock after every commit (and after a Load), so reading
// the file again, every gateway's newest record with its checksum, would
// only cost a write time that grows with the number of gateways.
func (s *Bolt) Snapshot(ctx context.Context) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	snap, ok := s.bc.snapshot()
	if !ok {
		return Snapshot{}, fmt.Errorf("store: snapshot: %w", ErrClosed)
	}
	return snap, nil
}

// readSnapshot reads the whole state from the file.
func (s *Bolt) readSnapshot() (Snapshot, error) {
	snap := Snapshot{Entries: []Entry{}, Policies: []Entry{}, Conditions: []Entry{}, Routes: []Entry{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		snap.Version = int64(binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keyVersion)))
		var err error
		if snap.Entries, err = liveIn(tx, KindGateway); err != nil {
			return err
		}
		if snap.Policies, err = liveIn(tx, KindPolicy); err != nil {
			return err
		}
		if snap.Conditions, err = liveIn(tx, KindCondition); err != nil {
			return err
		}
		snap.Routes, err = liveIn(tx, KindRoute)
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
		e, err := newest(k, b, string(name))
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
		e, err = newest(KindPolicy, tx.Bucket(bucketPolicies), name)
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
		e, err = newest(KindGateway, tx.Bucket(bucketGateways), name)
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
			e, err := decodeRecord(KindGateway, name, k, v, true)
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
		e, err = decodeRecord(KindGateway, name, u64(uint64(rev)), v, true)
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
			e, err := newest(kind, bucketOf(tx, kind), name)
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
func newest(k Kind, top *bolt.Bucket, name string) (Entry, error) {
	b := gatewayBucket(top, name)
	if b == nil {
		return Entry{}, nil
	}
	key, v := b.Cursor().Last()
	if key == nil {
		return Entry{}, fmt.Errorf("%s: no revisions (corrupt file?)", subject(k, name))
	}
	return decodeRecord(k, name, key, v, true)
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

// castagnoli is CRC-32C's table: the polynomial with hardware support on
// amd64 and arm64, so checking every record at start costs little.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sumOffset is where a record's CRC sits: after the flags and the time.
const sumOffset = 9

// recordSum is the CRC-32C of a record: of its kind, gateway name and
// revision key as well as its bytes (without the CRC itself), so that a
// record found under another name or revision fails too.
func recordSum(k Kind, name string, key, rec []byte) uint32 {
	sum := crc32.Update(0, castagnoli, bucketName(k))
	sum = crc32.Update(sum, castagnoli, []byte{0})
	sum = crc32.Update(sum, castagnoli, []byte(name))
	sum = crc32.Update(sum, castagnoli, []byte{0})
	sum = crc32.Update(sum, castagnoli, key)
	sum = crc32.Update(sum, castagnoli, rec[:sumOffset])
	return crc32.Update(sum, castagnoli, rec[sumOffset+4:])
}

func bucketName(k Kind) []byte {
	switch k {
	case KindPolicy:
		return bucketPolicies
	case KindCondition:
		return bucketConditions
	case KindRoute:
		return bucketRoutes
	}
	return bucketGateways
}

// encodeRecord is a record of schema 2: the flags byte, the commit time (8
// bytes), the CRC (4 bytes), with flagReason a uvarint length and the
// reason, then the document.
func encodeRecord(e Entry) []byte {
	buf := make([]byte, sumOffset+4, sumOffset+4+len(e.Doc)+len(e.Reason)+2)
	if e.Deleted {
		buf[0] |= flagDeleted
	}
	binary.BigEndian.PutUint64(buf[1:9], uint64(e.Time.UnixNano()))
	if slot := reasonSlot(e.Reason, e.Author); slot != "" {
		buf[0] |= flagReason
		buf = binary.AppendUvarint(buf, uint64(len(slot)))
		buf = append(buf, slot...)
	}
	buf = append(buf, e.Doc...)
	binary.BigEndian.PutUint32(buf[sumOffset:], recordSum(e.Kind, e.Name, u64(uint64(e.Revision)), buf))
	return buf
}

// decodeRecord reads a record of schema 2 (summed) or 1, checking its CRC
// first: a flipped bit anywhere, the flags included, is a checksum
// mismatch. It copies out of v: bbolt's memory is only valid in the
// transaction.
func decodeRecord(k Kind, name string, key, v []byte, summed bool) (Entry, error) {
	if len(key) != 8 {
		return Entry{}, fmt.Errorf("%s: corrupt record: bad revision key %x", subject(k, name), key)
	}
	e := Entry{Kind: k, Name: name, Revision: int64(binary.BigEndian.Uint64(key))}
	corrupt := func(why string) error {
		return fmt.Errorf("%s revision %d: corrupt record: %s", subject(k, name), e.Revision, why)
	}
	rest := v
	if summed {
		if len(v) < sumOffset+4 {
			return Entry{}, corrupt(fmt.Sprintf("%d bytes, shorter than its header", len(v)))
		}
		stored, sum := binary.BigEndian.Uint32(v[sumOffset:]), recordSum(k, name, key, v)
		if stored != sum {
			return Entry{}, fmt.Errorf("%s revision %d: checksum mismatch: the record changed on disk after it was written (stored CRC-32C %08x, computed %08x)",
				subject(k, name), e.Revision, stored, sum)
		}
		rest = v[sumOffset+4:]
	} else if len(v) < sumOffset {
		return Entry{}, corrupt(fmt.Sprintf("%d bytes, shorter than its header", len(v)))
	} else {
		rest = v[sumOffset:]
	}
	if v[0]&^(flagDeleted|flagReason) != 0 {
		return Entry{}, corrupt(fmt.Sprintf("unknown flags %#x", v[0]))
	}
	e.Deleted = v[0]&flagDeleted != 0
	e.Time = time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9]))).UTC()
	if v[0]&flagReason != 0 {
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return Entry{}, corrupt("bad reason length")
		}
		e.Reason, e.Author = splitReasonSlot(string(rest[w : w+int(n)]))
		rest = rest[w+int(n):]
	}
	if e.Deleted && len(rest) != 0 {
		return Entry{}, corrupt("a deletion with a document")
	}
	if !e.Deleted {
		e.Doc = append(make([]byte, 0, len(rest)), rest...)
	}
	return e, nil
}

// authorMark opens a reason slot that holds an author: the mark, the
// author, the mark again, then the reason. A control character no reason
// the API takes can hold (see api's reason checks), and that a policy's
// reasons do not start with.
const authorMark = "\x1f"

// reasonSlot is what a record keeps of a reason and an author.
func reasonSlot(reason, author string) string {
	if author == "" {
		return reason
	}
	return authorMark + author + authorMark + reason
}

func splitReasonSlot(slot string) (reason, author string) {
	if rest, ok := strings.CutPrefix(slot, authorMark); ok {
		if a, r, ok := strings.Cut(rest, authorMark); ok {
			return r, a
		}
	}
	return slot, ""
}

// Backup writes a consistent copy of the store file to w from one read
// transaction (bbolt's tx.WriteTo), so writes go on meanwhile. size, if not
// nil, is told the copy's length before the first byte is written.
func (s *Bolt) Backup(ctx context.Context, w io.Writer, size func(int64)) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		if size != nil {
			size(tx.Size())
		}
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, s.fail("backup", err)
	}
	return n, nil
}

func u64(n uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, n)
}
