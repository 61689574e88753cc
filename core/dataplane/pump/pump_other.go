//go:build !linux

package pump

import "net"

// Pump falls back to Copy where there is no epoll.
type Pump struct{}

// New returns a Pump; n is ignored without epoll.
func New(n int) *Pump { return &Pump{} }

// Pipe moves bytes both ways between a and b with Copy; see the Linux
// version for the contract.
func (p *Pump) Pipe(a, b *net.TCPConn, abort <-chan struct{}, counts Counts) error {
	return copyAbortable(a, b, abort, counts)
}

// Close does nothing: Copy's goroutines end with their connections.
func (p *Pump) Close() error { return nil }
