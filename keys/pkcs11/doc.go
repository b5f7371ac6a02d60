// Package pkcs11 keeps a site's keys in a PKCS#11 token (an HSM; SoftHSM2
// in tests): keys.Store where the keys are generated inside the token and
// never leave it. It needs cgo (github.com/miekg/pkcs11 dlopens the module
// at run time, so the binary builds without the module installed). Built
// with CGO_ENABLED=0, the package compiles but Open and Create fail saying
// so.
//
// # Keys on the token
//
// Root keys are AES-256 secret keys made by C_GenerateKey inside the token
// with CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE true, CKA_EXTRACTABLE and
// CKA_MODIFIABLE false, usable only to encrypt and decrypt, labelled
// PREFIX-root-vN (PREFIX is Config.KeyPrefix, "coffre" by default; two
// sites can share a token under two prefixes). Signing keys are P-256 key
// pairs labelled PREFIX-sign-NAME; MAC keys 256-bit generic secrets
// labelled PREFIX-mac-NAME, usable only for CKM_SHA256_HMAC. The token is
// found by label (Config.TokenLabel), never by slot number: SoftHSM2 moves
// a token to a new slot when it is initialised.
//
// Wrap and Unwrap are C_Encrypt and C_Decrypt with CKM_AES_GCM, a 96-bit
// nonce and a 128-bit tag, the associated data being the one of the keys
// blob format. SoftHSM 2.6.1 supports GCM with the parameters of
// pkcs11.NewGCMParams (checked by the conformance suite), so no fallback
// construction exists. The nonce is drawn from crypto/rand and passed in;
// the one the module reports after C_Encrypt is what goes in the blob, for
// modules that insist on their own. Random 96-bit nonces bound a root key
// to about 2^32 Wraps, far beyond a rotation period: the vault wraps once
// per tenant KEK. A failed tag check is CKR_GENERAL_ERROR on SoftHSM2
// (CKR_ENCRYPTED_DATA_INVALID elsewhere), so a failing C_Decrypt counts as
// keys.ErrUnwrap only if the session and the token still answer right
// after; otherwise the token is treated as lost.
//
// Signer signs SHA-256 digests with CKM_ECDSA (SoftHSM2 has no
// CKM_ECDSA_SHA256) and converts the token's r||s to ASN.1 DER.
//
// # Sessions and recovery
//
// Calls run on a pool of at most Config.MaxSessions sessions, one per call
// in flight; the pool is safe for concurrent use. A PKCS#11 module is
// process-global (one C_Initialize for the whole library), so stores share
// one initialised module per path, finalised when the last one closes.
//
// When a call fails with a code that means the session, login, key handle
// or device is gone (CKR_SESSION_HANDLE_INVALID, CKR_DEVICE_REMOVED,
// CKR_TOKEN_NOT_PRESENT, ...), the store drops its sessions, reconnects
// (find the token by label, open a session, log in, list the root keys)
// and, for a call that is safe to repeat, retries once. If the token is
// not found, the store initialises the module again (C_Finalize,
// C_Initialize) before giving up: modules such as SoftHSM2 enumerate tokens
// only in C_Initialize, and keep failing on a token that vanished even
// after it is back. Calls fail with keys.ErrUnavailable while the token is
// away, at once and without touching the module for Config.RetryInterval
// after each failed attempt; the store recovers by itself when the token
// returns, with no restart. Rotate, Retire and the Create* calls are not
// retried (they may have happened): they return ErrUnavailable. A refused
// PIN is keys.ErrSealed and is never retried, since each wrong attempt
// brings the token closer to locking it.
//
// Several gateway nodes may share a token: Wrap reads the list of root
// keys again when it is older than Config.Refresh (10 s), Unwrap does when
// a blob names a version it does not know, and Current always does. Rotate
// from one node at a time (two at once would make two keys of one version,
// which makes every store refuse the token until one is destroyed).
//
// # Secrets in memory
//
// The keys never are. The PIN is a keys.Secret, zeroed on Close; Login
// needs it as a Go string and the C wrapper copies it again, neither of
// which can be zeroed. Unwrapped secrets come back through a C buffer that
// the wrapper frees without zeroing; the copy returned to the caller is
// the caller's to zero. Config logs without the PIN. The PIN comes from
// COFFRE_PKCS11_PIN_FILE or COFFRE_PKCS11_PIN (LoadPIN), never a flag.
package pkcs11
