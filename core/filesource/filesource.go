// Package filesource feeds gateways from a file: it reads and decodes the
// file, and reads it again on SIGHUP and whenever it changes on disk. A file
// that does not decode, or that the engine refuses, is reported and the
// gateways in service stay as they are.
package filesource

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/turnout/turnout/core/gateway"
)

// Apply puts a decoded set of gateways in service or says why not.
type Apply func([]*gateway.Gateway) error

// Load reads, decodes and applies the file once.
func Load(path string, apply Apply) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read gateways: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		// Most likely caught half-written (truncated, not yet filled):
		// taking it at its word would close every gateway.
		return fmt.Errorf("%s: the file is empty; refusing to remove every gateway", path)
	}
	gws, err := gateway.Decode(data, path)
	if err != nil {
		return err
	}
	return apply(gws)
}

// Watch reloads the file on SIGHUP and on changes until ctx ends. result
// is called after every reload attempt with its error (nil on success).
// It watches the file's directory, not the file, so editors and tools that
// replace the file by renaming a new one over it are seen too.
func Watch(ctx context.Context, path string, apply Apply, result func(error), log *slog.Logger) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	defer w.Close()
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// Writers often touch a file several times in a row: settle first.
	const settle = 100 * time.Millisecond
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	reload := func(why string) {
		err := Load(path, apply)
		if err != nil {
			log.Error("gateways file refused; the gateways in service keep serving", "file", path, "trigger", why, "err", err)
		} else {
			log.Info("gateways file reloaded", "file", path, "trigger", why)
		}
		result(err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			timer.Stop()
			reload("SIGHUP")
		case ev := <-w.Events:
			if filepath.Clean(ev.Name) == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
				timer.Reset(settle)
			}
		case err := <-w.Errors:
			log.Warn("file watch error", "file", path, "err", err)
		case <-timer.C:
			reload("file changed")
		}
	}
}
