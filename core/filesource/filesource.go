// Package filesource feeds gateways from a file: it reads and decodes the
// file, and reads it again on SIGHUP and whenever it changes on disk. A file
// that does not decode, or that the engine refuses, is reported and the
// gateways in service stay as they are.
package filesource

import (
	"bytes"
	"context"
	"errors"
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
	// A reference to a stored route or a named condition has nothing to
	// resolve against here: they live in the API's store.
	for _, g := range gws {
		var fe *gateway.FieldError
		if errors.As(g.RouteReferences(), &fe) || errors.As(g.ConditionReferences(), &fe) {
			fe.Source = path // file:line, as the decoder's errors
			return fe
		}
	}
	return apply(gws)
}

// Watcher reloads the file on SIGHUP and on changes. NewWatcher arms it
// (the signal and the file watch), Run reloads until ctx ends: an agent
// arms it before it says it serves, so that a change or a SIGHUP sent once
// /healthz answers is never missed (a test under stress sent both before
// the watch was armed, and the reload never came).
type Watcher struct {
	path, abs string
	w         *fsnotify.Watcher
	hup       chan os.Signal
}

// NewWatcher watches the file's directory, not the file, so editors and
// tools that replace the file by renaming a new one over it are seen too.
func NewWatcher(path string) (*Watcher, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return &Watcher{path: path, abs: abs, w: w, hup: hup}, nil
}

// Run reloads the file on SIGHUP and on changes until ctx ends, then
// disarms the watcher. result is called after every reload attempt with
// its error (nil on success).
func (fw *Watcher) Run(ctx context.Context, apply Apply, result func(error), log *slog.Logger) {
	defer fw.w.Close()
	defer signal.Stop(fw.hup)
	path, abs, w, hup := fw.path, fw.abs, fw.w, fw.hup

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
			return
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
