package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/zktest"
)

// zkPaths numbers the stores the tests open, so that each has a path of its own.
var zkPaths atomic.Int64

func zkPath() string { return fmt.Sprintf("/turnout-test/s%d", zkPaths.Add(1)) }

// openZK opens a store on srv at path, closed when the test ends.
func openZK(t *testing.T, srv *zktest.Server, path string, mod ...func(*ZKConfig)) *ZK {
	t.Helper()
	cfg := ZKConfig{Servers: []string{srv.Addr()}, Path: path, SessionTimeout: 4 * time.Second, OpTimeout: 3 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(bg, waitFor)
	defer cancel()
	s, err := OpenZK(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// One ZooKeeper for the whole suite, a fresh path per case.
func TestZK(t *testing.T) {
	srv := zktest.Start(t)
	testStore(t, func(t *testing.T) Store { return openZK(t, srv, zkPath()) })
}
