// Package identity is Coffre's national digital identity: the register of
// residents, relying-party clients and agents that the OpenID Connect
// provider (identity/op) serves, kept in the site's metadata store beside
// the vault's records, in tables of their own under the prefix "I/".
//
// Every record holds personal data or secrets (names, birth data, password
// hashes, TOTP secrets, card certificates, refresh-token hashes), so every
// record is sealed (XChaCha20-Poly1305) under the register's data key, itself
// wrapped by the site's root key in the key store (HSM or sealed keyring),
// and every record name is a keyed hash: the metadata store never sees a
// national number, a name or a card in clear. Without the key store the
// register does not open: the provider then refuses every login and
// issuance (fail closed).
//
// The factors and protocol pieces live in subpackages with one job each:
// password (argon2id), totp (RFC 6238), webeid (the ID card), dpop
// (RFC 9449), clientauth (private_key_jwt), jwt (signing in the key store,
// JWE to clients), replay (one-time identifiers), and op, the provider.
package identity
