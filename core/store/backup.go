package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SaveBackup writes a backup to dest through write, into a temporary file
// next to it that is synced and checked (Check) before it takes dest's
// name: dest is either the old file or a whole, sound backup. A backup that
// fails its check is removed and the error wraps ErrDamaged.
func SaveBackup(dest string, write func(io.Writer) error) (*Report, error) {
	tmp, err := os.CreateTemp(filepath.Dir(dest), filepath.Base(dest)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("store: backup: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("store: backup: write %s: %w", tmp.Name(), err)
	}
	rep, err := Check(tmp.Name())
	rep.Path = dest
	if err != nil {
		return rep, fmt.Errorf("store: backup: the copy failed its check, nothing was written to %s: %w", dest, err)
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return rep, fmt.Errorf("store: backup: %w", err)
	}
	done = true
	return rep, syncDir(filepath.Dir(dest))
}

// BackupFile writes a consistent copy of dir's store to dest (see
// SaveBackup), for a store no turnout serves from: a running turnout holds
// the file's lock (the error wraps ErrLocked), and is backed up through its
// API. The store is checked first: a damaged store is not copied as if it
// were a backup (copy the file itself to keep it).
func BackupFile(dir, dest string) (*Report, error) {
	path := filepath.Join(dir, FileName)
	if sameFile(path, dest) {
		return nil, fmt.Errorf("store: backup: %s is the store file itself", dest)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := missing(dir); err != nil {
			return nil, err
		}
	}
	db, rep, err := openChecked(path, true)
	if err != nil {
		return rep, err
	}
	defer db.Close()
	return SaveBackup(dest, func(w io.Writer) error {
		return db.View(func(tx *bolt.Tx) error {
			if _, err := tx.WriteTo(w); err != nil {
				return fmt.Errorf("store: backup %s: %w", path, err)
			}
			return nil
		})
	})
}

// Restored is what Restore did.
type Restored struct {
	// Backup is the check of the backup put in place.
	Backup *Report
	// Kept is where the store file it replaced was kept, "" if there was
	// none; KeptDamage why that file was damaged, nil if it was sound.
	Kept       string
	KeptDamage error
}

// Restore puts the backup file in place as dir's store. The backup is
// checked first and refused if it fails (nothing changes). The store file
// it replaces is never deleted: it is renamed turnout.db.damaged-TIME if it
// fails its check, turnout.db.replaced-TIME if not (UTC, 20060102T150405Z).
// A store a turnout serves from is refused (ErrLocked): stop it first.
func Restore(dir, backup string) (*Restored, error) {
	path := filepath.Join(dir, FileName)
	if sameFile(path, backup) {
		return nil, fmt.Errorf("store: restore: %s is the store file itself", backup)
	}
	rep, err := Check(backup)
	res := &Restored{Backup: rep}
	if err != nil {
		return res, fmt.Errorf("store: restore refused, the backup failed its check (nothing was changed): %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, fmt.Errorf("store: create data dir: %w", err)
	}
	inUse := func() error {
		return fmt.Errorf("store: restore refused: %s is in use by a running turnout (nothing was changed); stop it first: %w", path, ErrLocked)
	}
	var cur *os.File
	switch _, err := os.Stat(path); {
	case err == nil:
		// The check names the file kept aside; the lock then keeps a
		// turnout from starting on it until the backup is in place.
		if _, res.KeptDamage = Check(path); errors.Is(res.KeptDamage, ErrLocked) {
			return res, inUse()
		}
		if cur, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
			return res, fmt.Errorf("store: restore: %w", err)
		}
		defer cur.Close()
		if err := lockFile(cur, true, lockTimeout); errors.Is(err, ErrLocked) {
			return res, inUse()
		} else if err != nil {
			return res, fmt.Errorf("store: restore: lock %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return res, fmt.Errorf("store: restore: %w", err)
	}

	tmp, err := os.CreateTemp(dir, FileName+".restore-*")
	if err != nil {
		return res, fmt.Errorf("store: restore: %w", err)
	}
	defer tmp.Close() // after the rename: it holds the new file's lock till then
	placed := false
	defer func() {
		if !placed {
			os.Remove(tmp.Name())
		}
	}()
	// Locked before it takes the store's name, so a turnout starting
	// meanwhile waits rather than reads a half-copied file.
	if err := lockFile(tmp, true, 0); err != nil {
		return res, fmt.Errorf("store: restore: lock %s: %w", tmp.Name(), err)
	}
	if err := copyFile(tmp, backup); err != nil {
		return res, fmt.Errorf("store: restore: copy %s: %w", backup, err)
	}
	if cur != nil {
		kind := "replaced"
		if res.KeptDamage != nil {
			kind = "damaged"
		}
		res.Kept = fmt.Sprintf("%s.%s-%s", path, kind, time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(path, res.Kept); err != nil {
			res.Kept = ""
			return res, fmt.Errorf("store: restore: keep the old file: %w", err)
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		if res.Kept != "" && os.Rename(res.Kept, path) == nil {
			res.Kept = ""
		}
		return res, fmt.Errorf("store: restore: %w", err)
	}
	placed = true
	if err := syncDir(dir); err != nil {
		return res, err
	}
	return res, writeMarker(dir)
}

// copyFile copies the file src into dst and syncs dst.
func copyFile(dst *os.File, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if _, err := io.Copy(dst, in); err != nil {
		return err
	}
	if err := dst.Chmod(0o600); err != nil {
		return err
	}
	return dst.Sync()
}

// sameFile reports whether a and b name one existing file.
func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}
