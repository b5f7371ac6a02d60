// Package keystest is the conformance suite of keys.Store: every
// implementation runs it against the real thing (a keyring file, a SoftHSM2
// token), so that the edge cases written in the keys documentation hold for
// each of them.
//
//	func TestConformance(t *testing.T) { keystest.Run(t, opts) }
//	func BenchmarkStore(b *testing.B)   { keystest.Bench(b, opts) }
//
// Run checks: round trips of 1 byte to keys.MaxSecretSize; wrong ad,
// every single-bit flip and every truncation of a blob, and blobs naming
// unknown versions, all ErrUnwrap with no output; Rotate (old blobs still
// open, new ones name the new version), Retire (refused for the current
// version, final, versions never reused), Reopen (a restart keeps every
// version, signing and MAC key); 16 goroutines wrapping and unwrapping
// while the root key rotates; an unavailable store (ErrUnavailable or
// ErrSealed, never ErrUnwrap) that recovers by itself; canceled contexts;
// Close (ErrClosed afterwards, secrets zeroed); ES256 signing keys
// (signatures verify with crypto/ecdsa) and HMAC-SHA256 keys (stable
// across restarts).
package keystest
