// Package httprule implements the rules of RFC 9111 (HTTP caching) for a
// shared cache as pure functions of header fields and time; it does no
// I/O.
//
// It parses Cache-Control and the targeted cache-control fields of RFC 9213
// ([ParseDirectives], [ParseRequest], [Freshness.Of]), computes freshness
// ([Policy]) and age ([Age]), decides what a shared cache may store
// ([Storable], [StripForStorage], [Retention]), selects variants by Vary
// ([NormalizeVary], [VaryValues]), validates ([NotModified], [Validates],
// [UpdateStored]) and invalidates ([Invalidated]). Keeping responses,
// serving them and talking to the handler is the caller's business.
package httprule
