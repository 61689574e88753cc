package events

import (
	"fmt"
	"testing"
)

// BenchmarkPublish: the cost of a publish with live readers, and with a
// reader that never reads (dropped once its buffer is full, then costing
// nothing). Publish never waits for either.
func BenchmarkPublish(b *testing.B) {
	for _, stalled := range []int{0, 1, 100} {
		b.Run(fmt.Sprintf("stalled=%d", stalled), func(b *testing.B) {
			bus := New(0, 0)
			for range stalled {
				bus.Subscribe(Filter{}, 0, false)
			}
			live, _, _ := bus.Subscribe(Filter{}, 0, false)
			done := make(chan struct{})
			go func() {
				for range live.C() {
				}
				close(done)
			}()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				bus.Publish(Event{Type: RouteHeld, Gateway: "shop", Route: "v2", Reason: "not ready"})
			}
			b.StopTimer()
			bus.Close()
			<-done
		})
	}
}
