// Package dataplane serves gateways: one listening socket per gateway port,
// HTTP/1.1 reverse proxying (on fasthttp) or TCP proxying behind it, and
// one atomic pointer to the routing.Table in service.
//
// A configuration change never touches a socket: Apply opens the sockets
// of new ports first (and gives up, changing nothing, if one fails), then
// swaps the table pointer, then closes the ports no gateway uses any more
// after their connections drain. Every request loads the table once and
// finishes on it. Endpoints removed by the swap take no new requests and
// are closed once their in-flight requests finish.
package dataplane
