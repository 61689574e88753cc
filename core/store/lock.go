package store

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// lockFile takes the flock bbolt itself takes on the store file (exclusive
// for a writer, shared for a reader), waiting up to timeout. The store takes
// it before reading the file's header, so that a check never reads a file a
// running turnout is writing; bbolt, handed the same *os.File, then takes
// the lock it already holds. flock and not fcntl locks: that is what bbolt
// uses, and the two kinds do not see each other.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if time.Now().After(deadline) {
			return ErrLocked
		}
		time.Sleep(50 * time.Millisecond)
	}
}
