// Package sdk is Turnout's public plugin API. A plugin is a separate
// process that Turnout starts and talks to over gRPC (hashicorp/go-plugin);
// its author writes plain Go against the interfaces here and never sees the
// generated protocol code:
//
//   - a Backend resolves route targets of its schemes ("marathon:/app",
//     "consul:svc?tag=1") to endpoints, streaming complete snapshots;
//   - a Policy drives a gateway's weights from per-route metrics windows.
//
// A plugin's main is one call:
//
//	func main() { sdk.Serve(&myBackend{}) }
//
// Serve reserves standard output for the go-plugin handshake: log with
// sdk.Logger (or write to standard error), never to standard output.
//
// This package never imports Turnout's core: it is the whole contract
// between Turnout and its plugins. Protocol version 1 is frozen; a breaking
// change comes as version 2 beside it (see APIVersion).
package sdk
