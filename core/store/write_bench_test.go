package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/turnout/turnout/internal/zktest"
)

// benchDoc is a gateway document of the size an API PUT stores: a few
// routes with weights (about 300 bytes).
const benchDoc = `{"name":"shop/web","port":"8080/http","routes":{"[10.0.0.1:8080]":{"weight":"90%%"},"[10.0.0.2:8080]":{"weight":"10%%","condition":"header(\"X-Canary\") == \"yes\""}},"sticky":"route","policy":{"type":"canary","steps":[10,20,50],"interval":"1m"},"n":%d}`

// BenchmarkStoreWrite is the store's write rate: one op is one Apply of one
// gateway (what an API PUT commits), bolt (fsync per commit) against
// ZooKeeper (one multi, a local standalone server as internal/zktest runs
// it: forceSync=no). writers=3 is three writers at once, each its own
// gateway: on bolt three goroutines of one process (bbolt has one writer
// at a time), on ZooKeeper three sessions, as three agents, which
// contend on the store version's compare-and-set. writes/s is over all
// writers.
//
//	go test -run '^$' -bench StoreWrite -benchtime 2s ./core/store/
func BenchmarkStoreWrite(b *testing.B) {
	// One ZooKeeper for every sub-benchmark (this function runs once): a
	// JVM start per round of b.N would dwarf the writes.
	srv := zktest.Start(b)
	kinds := []struct {
		name string
		open func(b *testing.B, writers int) []Store
	}{
		{"bolt", func(b *testing.B, writers int) []Store {
			s, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			out := make([]Store, writers)
			for i := range out {
				out[i] = s
			}
			return out
		}},
		{"zookeeper", func(b *testing.B, writers int) []Store {
			path := zkPath()
			out := make([]Store, writers)
			for i := range out {
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				s, err := OpenZK(ctx, ZKConfig{Servers: []string{srv.Addr()}, Path: path})
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				out[i] = s
			}
			return out
		}},
	}
	for _, k := range kinds {
		for _, writers := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s/writers=%d", k.name, writers), func(b *testing.B) {
				stores := k.open(b, writers)
				ctx := context.Background()
				var wg sync.WaitGroup
				errs := make(chan error, writers)
				b.ResetTimer()
				start := time.Now()
				for w, s := range stores {
					n := b.N / writers
					if w < b.N%writers {
						n++
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						name := fmt.Sprintf("gw%d", w)
						for i := range n {
							if _, err := s.Apply(ctx, []Change{{Name: name, Doc: fmt.Appendf(nil, benchDoc, i), Match: Any}}); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				close(errs)
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
			})
		}
	}
}
