// Package keys is the site's key store, held like upspin's factotum: the
// root keys that wrap every tenant key, and the identity layer's signing
// and MAC keys, stay inside it; callers get a few operations on them,
// never the keys.
//
// Envelope encryption (DESIGN.md) runs DEK -> tenant KEK -> root key. The
// vault wraps each tenant KEK with Wrap, stores the blob in the metadata
// store, and unwraps it with Unwrap on a cache miss: a key store call is
// never on the per-object path. Root keys are versioned; Rotate makes a new
// current one, a rewrap job moves blobs to it (RootVersion tells which
// version a blob names, without opening it), and Retire destroys the old
// one. Destroying a tenant KEK's wrapped blob at every site is
// crypto-shredding; destroying a root key shreds every blob still under it.
//
// Implementations: keys/keyring (a sealed file, the embedded default) and
// keys/pkcs11 (an HSM, SoftHSM2 in tests). Both pass the conformance suite
// keys/keystest against the real thing. The blob format is shared, so a
// blob says nothing of the store that made it:
//
//	0x01 | root key version (uint32 BE) | nonce (12) | AES-256-GCM(secret) | tag (16)
//	GCM associated data = "coffre/keys/wrap/v1\x00" | first 5 bytes | caller's ad
//
// # Oracle risks
//
// Whoever can call a Store can use the keys without seeing them. Only the
// vault process (and, for signing and MAC keys, the identity provider in the
// same process) may hold a Store; never expose an operation over the
// network as it is.
//
//   - Wrap is an encryption oracle: a caller can make blobs that the site
//     will later accept as genuine tenant keys, for any ad. The ad binding
//     only helps if the vault derives ad from the tenant it serves, never
//     from the request.
//   - Unwrap is a decryption oracle: a caller holding a blob and its ad gets
//     the tenant KEK, and with it every object of the tenant. It also tells
//     "opens" from "does not open" (ErrUnwrap), which is harmless for GCM
//     but is why failures carry no detail on what was wrong.
//   - Rotate and Retire change what exists: Retire before the rewrap is
//     finished destroys data (by design: crypto-shredding). Keep them
//     behind an operator command (`coffre keys rotate|retire`), never a
//     request path. With several gateway nodes on one HSM, Retire a
//     version only after every node wraps under the new one (a pkcs11
//     store's Wraps follow another node's Rotate within Config.Refresh,
//     10 s by default) and the rewrap that started after that finished.
//   - Signer signs any SHA-256 digest: whoever can call it mints id_tokens
//     that relying parties trust. Sign only what identity built itself.
//   - MAC is a keyed hash oracle: with it, a caller can compute the
//     pairwise subject id of any (sector, national number) pair, which is
//     what the keying is meant to prevent for everyone else.
//   - Current reveals the version number only: not secret.
//
// # Zeroing
//
// Key material held in Go memory is a keys.Secret: it prints as
// "[REDACTED]" with fmt, slog and encoding/json, and is overwritten with
// zeros when no longer needed: a keyring's root, MAC and signing keys and
// its file key on Close and Seal, a retired root key on Retire, a PKCS#11
// PIN on Close. The bytes Unwrap returns are the caller's to zero. What Go
// cannot zero is said where it happens (expanded AES key schedules, ECDSA
// and HMAC internals, cgo buffers): see each implementation's doc.
//
// # Errors
//
// Sentinels, wrapped with context: ErrUnwrap (a blob that does not open),
// ErrSealed (a keyring without its unseal key, a refused HSM PIN),
// ErrUnavailable (an HSM that cannot be reached; the store reconnects by
// itself), ErrNoSuchKey, ErrExist, ErrInvalid, ErrClosed. A blob naming a
// root version the store does not hold is both ErrUnwrap and ErrNoSuchKey.
package keys
