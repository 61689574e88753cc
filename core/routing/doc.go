// Package routing turns validated gateways and their resolved endpoints
// into an immutable routing Table, one per generation, and makes the
// per-request routing decision on it.
//
// A Table is never modified after Build returns: the data plane loads it
// once per request (or TCP connection) through an atomic pointer and
// finishes on it, while a newer Table may already be in service. The only
// mutable state a Table reaches is deliberately shared and atomic: the
// weighted schedule's cursor, per-endpoint in-flight counts and ejection
// deadlines (Endpoint outlives tables, so passive health and connection
// pools survive a weight change).
//
// The decision, in Vamp's order:
//  1. sticky: a valid affinity cookie names the route (and, for
//     sticky: instance, the endpoint) the client had before, if that route
//     still takes requests (a weight, or a condition with a strength);
//  2. conditions: the first route, in order, whose condition matches takes
//     condition_strength% of the matching requests, counted exactly;
//  3. weights: everything else follows a smooth weighted round-robin
//     schedule whose proportions are exact over every window of
//     sum(weights)/gcd requests.
package routing
