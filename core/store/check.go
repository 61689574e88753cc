package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// Report is what a check of a store file found.
type Report struct {
	Path     string
	Size     int64  // bytes
	PageSize int    // bbolt's page size, 0 if the header could not be read
	Txid     uint64 // bbolt's transaction the file is read at
	Schema   uint64 // 0 if unknown
	Version  int64  // the store version
	// Gateways and Policies count the live (not deleted) gateways and
	// policy states; Revisions every record kept, deletions included.
	Gateways, Policies, Revisions int
	// Conditions and Routes count the live named conditions and stored
	// routes.
	Conditions, Routes int
	// Unsummed counts records without a checksum: a schema-1 file, which
	// turnout migrates (checksumming every record) when it opens it.
	Unsummed int
	// Warnings are wrong but harmless to serve: a damaged meta page bbolt
	// does without.
	Warnings []string
	// Problems are the damage found, the first maxProblems of Damage.
	Problems []string
	Damage   int
	// metaDamaged: a meta page is damaged (see consistency).
	metaDamaged bool
}

// maxProblems bounds Problems: a garbled page can fail thousands of keys.
const maxProblems = 20

func (r *Report) problem(format string, args ...any) {
	r.Damage++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// damaged is the error of a report with problems: the file and the first.
func (r *Report) damaged() error {
	msg := r.Problems[0]
	if n := r.Damage - 1; n == 1 {
		msg += " (and 1 more problem)"
	} else if n > 1 {
		msg += fmt.Sprintf(" (and %d more problems)", n)
	}
	return fmt.Errorf("store: %s is %w: %s", r.Path, ErrDamaged, msg)
}

// Check checks the store file at path (a data dir's turnout.db or a backup)
// without changing it: its header and length, every record (decoded, its
// checksum compared) and bbolt's consistency check (tx.Check). It takes a
// shared lock on the file, so it fails with ErrLocked while a turnout
// serves from it. The error wraps ErrDamaged when the file is damaged;
// the report says what was found either way.
func Check(path string) (*Report, error) {
	db, rep, err := openChecked(path, true)
	if db != nil {
		db.Close()
	}
	return rep, err
}

// CheckDir checks the store of a data dir: Check of dir/turnout.db, and a
// missing file where MarkerFile says a store was is damage too.
func CheckDir(dir string) (*Report, error) {
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := missing(dir); err != nil {
			return &Report{Path: path, Problems: []string{"the file is missing"}, Damage: 1}, err
		}
		return &Report{Path: path}, fmt.Errorf("store: %s: no store here (a data dir turnout never ran with?): %w", path, err)
	}
	return Check(path)
}

// openChecked opens the store file at path with bbolt, checked. bbolt maps
// the file into memory and trusts what it finds: a page past the end of a
// truncated file faults (SIGBUS), a garbled one can make it read anywhere
// or panic, and it takes a 0-byte file for a new one. So the file is locked
// first, its header and length are read without bbolt (checkHeader), bbolt
// opens it (with faults turned into panics and panics into errors), and
// every page and record is read before bbolt's own consistency check runs.
// On any damage db is nil and the error wraps ErrDamaged.
func openChecked(path string, readOnly bool) (db *bolt.DB, rep *Report, err error) {
	rep = &Report{Path: path}
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, rep, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := lockFile(f, !readOnly, lockTimeout); err != nil {
		f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, rep, lockedError(path)
		}
		return nil, rep, fmt.Errorf("store: lock %s: %w", path, err)
	}
	if err := checkHeader(f, rep); err != nil {
		f.Close()
		rep.problem("%v", err)
		return nil, rep, rep.damaged()
	}
	err = guarded(func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout:  lockTimeout,
			ReadOnly: readOnly,
			// Read the free list here, guarded, not in tx.Check's goroutine.
			PreLoadFreelist: true,
			// bbolt takes the lock this file already holds.
			OpenFile: func(string, int, os.FileMode) (*os.File, error) { return f, nil },
		})
		return err
	})
	if err != nil {
		f.Close() // bbolt closed it, unless it panicked
		rep.problem("bbolt cannot open it: %v", err)
		return nil, rep, rep.damaged()
	}
	var schemaErr error
	err = guarded(func() error {
		return db.View(func(tx *bolt.Tx) error {
			schemaErr = verify(tx, rep)
			return nil
		})
	})
	if err == nil && schemaErr == nil {
		err = consistency(db, rep)
	}
	switch {
	case err != nil:
		rep.problem("%v", err)
		fallthrough
	case rep.Damage > 0:
		db.Close()
		return nil, rep, rep.damaged()
	case schemaErr != nil:
		db.Close()
		return nil, rep, fmt.Errorf("store: open %s: %w", path, schemaErr)
	}
	return db, rep, nil
}

// guarded runs fn with memory faults turned into panics (for this
// goroutine) and a panic into an error: what bbolt does on a garbled file.
func guarded(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bbolt crashed on it (%v)", r)
		}
	}()
	return fn()
}

// bbolt's file format (go.etcd.io/bbolt/internal/common), read here without
// bbolt: every page starts with a 16-byte header (id, flags, count,
// overflow), pages 0 and 1 each hold a meta, in the machine's byte order.
const (
	pageHeaderSize   = 16
	metaSize         = 64
	metaSumOffset    = 56 // a meta's FNV-64a covers the bytes before it
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	freelistPageFlag = 0x10
	noFreelist       = ^uint64(0)
)

type boltMeta struct {
	pageSize                   uint32
	root, freelist, pgid, txid uint64
}

// readMeta reads and validates the meta page at off, as bbolt does.
func readMeta(f *os.File, off int64) (boltMeta, error) {
	b := make([]byte, pageHeaderSize+metaSize)
	if n, err := f.ReadAt(b, off); n < len(b) {
		return boltMeta{}, fmt.Errorf("cut short (%v)", err)
	}
	b = b[pageHeaderSize:]
	ne := binary.NativeEndian
	if ne.Uint32(b[0:]) != boltMagic {
		return boltMeta{}, errors.New("no bbolt magic number")
	}
	if v := ne.Uint32(b[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("bbolt format version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(b[:metaSumOffset])
	if h.Sum64() != ne.Uint64(b[metaSumOffset:]) {
		return boltMeta{}, errors.New("checksum mismatch")
	}
	m := boltMeta{pageSize: ne.Uint32(b[8:]), root: ne.Uint64(b[16:]), freelist: ne.Uint64(b[32:]), pgid: ne.Uint64(b[40:]), txid: ne.Uint64(b[48:])}
	if m.pageSize < 1024 || m.pageSize&(m.pageSize-1) != 0 || m.root >= m.pgid || m.freelist != noFreelist && m.freelist >= m.pgid {
		return boltMeta{}, errors.New("inconsistent")
	}
	return m, nil
}

// checkHeader reads the file's meta pages and checks that the file holds
// every page the newest valid one counts, and that the free list bbolt
// reads at open is whole. One damaged meta page is a warning: bbolt reads
// the file at the other one's transaction, as after a torn write, and the
// next commit rewrites the damaged page.
func checkHeader(f *os.File, rep *Report) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	rep.Size = size
	if size == 0 {
		return errors.New("the file is empty (0 bytes), which a store file never is: it was emptied (a full disk, a failed copy?)")
	}
	m0, err0 := readMeta(f, 0)
	pageSize := int64(m0.pageSize)
	if err0 != nil {
		// As bbolt does: find meta page 1 by the page sizes it may have.
		pageSize = 0
		for ps := int64(1024); ps <= 16<<20 && ps+pageHeaderSize+metaSize <= size; ps *= 2 {
			if m, err := readMeta(f, ps); err == nil && int64(m.pageSize) == ps {
				pageSize = ps
				break
			}
		}
	}
	if pageSize == 0 {
		if size < 2*1024 {
			return fmt.Errorf("the file is %d bytes, too short for a store file: truncated", size)
		}
		return fmt.Errorf("both header (meta) pages are garbled (page 0: %v; no valid page 1): not a store file, or overwritten", err0)
	}
	m1, err1 := readMeta(f, pageSize)
	m := m0
	switch {
	case err0 != nil:
		m = m1
		rep.metaDamaged = true
		rep.Warnings = append(rep.Warnings, metaWarning(0, err0, m1.txid))
	case err1 != nil:
		rep.metaDamaged = true
		rep.Warnings = append(rep.Warnings, metaWarning(1, err1, m0.txid))
	case m1.txid > m0.txid:
		m = m1
	}
	rep.PageSize, rep.Txid = int(pageSize), m.txid
	if need := int64(m.pgid) * pageSize; size < need {
		return fmt.Errorf("the file is truncated: it is %d bytes, its last transaction (%d) needs %d", size, m.txid, need)
	}
	if m.freelist == noFreelist {
		return nil
	}
	// bbolt loads the free list at open and trusts its length.
	hdr := make([]byte, pageHeaderSize+8)
	if _, err := f.ReadAt(hdr, int64(m.freelist)*pageSize); err != nil {
		return fmt.Errorf("the free-page list (page %d) cannot be read: %v", m.freelist, err)
	}
	ne := binary.NativeEndian
	id, flags, count, overflow := ne.Uint64(hdr), ne.Uint16(hdr[8:]), uint64(ne.Uint16(hdr[10:])), uint64(ne.Uint32(hdr[12:]))
	if count == 0xFFFF { // the real count is the first element
		count = ne.Uint64(hdr[16:]) + 1
	}
	if id != m.freelist || flags != freelistPageFlag || m.freelist+overflow >= m.pgid ||
		count > uint64(overflow+1)*uint64(pageSize)/8 {
		return fmt.Errorf("the free-page list (page %d) is garbled", m.freelist)
	}
	return nil
}

func metaWarning(page int, err error, txid uint64) string {
	return fmt.Sprintf("header (meta) page %d is damaged (%v): the store is read at transaction %d from the other one; "+
		"if the damaged page held a newer transaction, that last change is lost. The next write rewrites the page", page, err, txid)
}

// verify reads the whole file in tx: every page reachable from the root
// (so that a garbled page faults here, guarded, and not in tx.Check's own
// goroutine, where a fault could not be recovered), the layout, every
// record, then bbolt's consistency check. Damage goes to rep; the error is
// a schema newer than this turnout knows, whose records it cannot read.
func verify(tx *bolt.Tx, rep *Report) error {
	rep.Txid = uint64(tx.ID())
	var sink uint32
	var touch func(b *bolt.Bucket) error
	touch = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			sink = crc32.Update(sink, castagnoli, k)
			if v == nil {
				if c := b.Bucket(k); c != nil {
					return touch(c)
				}
				return nil
			}
			sink = crc32.Update(sink, castagnoli, v)
			return nil
		})
	}
	buckets := 0
	_ = tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
		buckets++
		return touch(b)
	})

	if meta := tx.Bucket(bucketMeta); meta == nil {
		// A file bbolt created but turnout never wrote its layout to
		// (stopped in between) is a new store; any other is damaged.
		if buckets > 0 || tx.ID() > 1 {
			rep.problem("the meta bucket is missing")
		}
	} else {
		n, err := schemaOf(meta)
		rep.Schema = n
		switch {
		case errors.Is(err, ErrSchema):
			return err
		case err != nil:
			rep.problem("%v", err)
		}
		if v := meta.Get(keyVersion); len(v) == 8 {
			rep.Version = int64(binary.BigEndian.Uint64(v))
		} else {
			rep.problem("the store version key is missing or corrupt")
		}
		if tx.Bucket(bucketGateways) == nil {
			rep.problem("the gateways bucket is missing")
		}
		if err == nil {
			for _, k := range kinds {
				checkRecords(tx, k, n >= 2, rep)
			}
		}
	}
	return nil
}

// consistency runs bbolt's consistency check (tx.Check). The check reads
// both meta pages, and a garbled one makes it panic in a goroutine of its
// own, beyond recovery: with a damaged meta page it runs on a copy written
// by tx.WriteTo, which writes both meta pages afresh.
func consistency(db *bolt.DB, rep *Report) error {
	if !rep.metaDamaged {
		return db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				rep.problem("bbolt consistency check: %v", err)
			}
			return nil
		})
	}
	tmp, err := os.CreateTemp("", "turnout-check-*.db")
	if err != nil {
		return fmt.Errorf("bbolt consistency check: copy the file: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(tmp)
		return err
	})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bbolt consistency check: copy the file: %w", err)
	}
	copied, err := bolt.Open(tmp.Name(), 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true, Timeout: lockTimeout})
	if err != nil {
		return fmt.Errorf("bbolt consistency check: open the copy: %w", err)
	}
	defer copied.Close()
	return copied.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			rep.problem("bbolt consistency check: %v", err)
		}
		return nil
	})
}

// checkRecords decodes every record of a kind, checksum first.
func checkRecords(tx *bolt.Tx, k Kind, summed bool, rep *Report) {
	top := bucketOf(tx, k)
	if top == nil {
		return
	}
	_ = top.ForEach(func(name, v []byte) error {
		subj := subject(k, string(name))
		b := top.Bucket(name)
		if v != nil || b == nil {
			rep.problem("%s: not a bucket", subj)
			return nil
		}
		var last Entry
		n := 0
		_ = b.ForEach(func(key, v []byte) error {
			n++
			if v == nil {
				rep.problem("%s: unexpected bucket %x", subj, key)
				return nil
			}
			e, err := decodeRecord(k, string(name), key, v, summed)
			if err != nil {
				rep.problem("%v", err)
				return nil
			}
			rep.Revisions++
			if !summed {
				rep.Unsummed++
			}
			last = e
			return nil
		})
		switch {
		case n == 0:
			rep.problem("%s: no revisions", subj)
		case last.Revision > 0 && !last.Deleted && k == KindPolicy:
			rep.Policies++
		case last.Revision > 0 && !last.Deleted && k == KindCondition:
			rep.Conditions++
		case last.Revision > 0 && !last.Deleted && k == KindRoute:
			rep.Routes++
		case last.Revision > 0 && !last.Deleted:
			rep.Gateways++
		}
		return nil
	})
}

// MarkerFile, next to the store file, says that the data dir holds a
// store: with it, a missing store file is damage, not a new store.
const MarkerFile = "turnout.db.marker"

const markerText = `This data dir holds a turnout store, turnout.db, the desired state.

turnout refuses to start when turnout.db is missing while this file is here,
rather than start with an empty store (every gateway gone). To put a backup in
place:

    turnout store restore --data-dir DIR BACKUP

To start with an empty store instead, delete this file.
`

// missing is the error of a data dir without a store file: nil for a new
// one, ErrDamaged where MarkerFile says a store was.
func missing(dir string) error {
	marker := filepath.Join(dir, MarkerFile)
	if _, err := os.Stat(marker); err != nil {
		return nil
	}
	return fmt.Errorf("store: %s is %w: the file is missing, but %s says this data dir held a store (delete the marker to start with an empty store)",
		filepath.Join(dir, FileName), ErrDamaged, marker)
}

// writeMarker writes MarkerFile if it is missing, then syncs the data dir,
// so that the store file's own directory entry is on disk too.
func writeMarker(dir string) error {
	marker := filepath.Join(dir, MarkerFile)
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	if err := os.WriteFile(marker, []byte(markerText), 0o600); err != nil {
		return fmt.Errorf("store: write %s: %w", marker, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	return nil
}
