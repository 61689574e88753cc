package dataplane

import (
	"net"
	"time"

	"github.com/turnout/turnout/core/metrics"
	"github.com/turnout/turnout/core/routing"
)

// dial opens a raw connection to an endpoint of r (TCP gateways and
// upgraded HTTP connections), starting with e (nil: pick one). An endpoint
// that refuses is ejected, its route's resolver is told, and the next one
// is tried, up to the route's retries. It returns the connection and the
// endpoint it reached, or nil when none could be reached, and when the
// attempt that connected began.
func (d *DataPlane) dial(r *routing.Route, e *routing.Endpoint) (net.Conn, *routing.Endpoint, time.Time) {
	if e == nil {
		e = r.Pick(nil)
	}
	for attempt := 0; e != nil; attempt++ {
		tried := time.Now()
		c, err := net.DialTimeout("tcp", e.Addr, d.opts.ConnectTimeout)
		if err == nil {
			e.Succeeded()
			return c, e, tried
		}
		r.Metrics.Error(metrics.ErrConnect)
		e.Failed(time.Now().UnixNano(), d.opts.EjectFor)
		if r.Failed != nil {
			r.Failed()
		}
		if attempt >= r.Retries {
			break
		}
		if e = r.Pick(e); e != nil {
			r.Metrics.Retried()
		}
	}
	r.Metrics.Error(metrics.ErrNoEndpoint)
	return nil, nil, time.Time{}
}
