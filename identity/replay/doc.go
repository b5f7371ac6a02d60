// Package replay remembers one-time identifiers until they expire, so that
// the provider accepts each of them once: the jti of a DPoP proof
// (identity/dpop, RFC 9449 §11.1) and the jti of a private_key_jwt client
// assertion (identity/clientauth, RFC 7523 §3 item 7, OpenID Connect Core
// §9).
//
// A Set lives in the memory of one process. A site that runs several
// provider nodes behind one endpoint either routes a client to one node or
// accepts that an identifier can be replayed once per node within its short
// lifetime; RFC 9449 §11.1 names that trade-off. The Set is bounded: it
// holds at most the number of live identifiers given to New and then fails
// closed with ErrFull rather than forgetting an identifier that has not yet
// expired (forgetting would let it be replayed). Memory per entry does not
// depend on the identifier's length: identifiers are kept as their SHA-256
// digest, about 120 bytes per entry in all.
//
// Expired entries are evicted by Use itself, a bounded number per call and
// all of them when the Set is full, so there is no goroutine to own or stop.
package replay
