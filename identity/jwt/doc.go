// Package jwt is the provider's JOSE layer, on go-jose: it signs the tokens
// the provider issues (ID tokens, RFC 9068 access tokens, logout tokens)
// with an ES256 key that stays inside the site key store (keys.Store, an HSM
// or the sealed keyring), encrypts them to a client that asked for it (a
// nested JWT, OpenID Connect Core §16.14: signed, then encrypted with
// ECDH-ES or RSA-OAEP-256), publishes the provider's public keys, and reads
// the clients' key sets, inline or from their jwks_uri.
//
// Nothing here knows about OAuth: claims are whatever the caller passes,
// typ is the caller's choice ("JWT", "at+jwt", "logout+jwt"), and checking
// iss, aud or exp is the caller's job. What this package owns is the
// algorithms (ES256 to sign; ECDH-ES, ECDH-ES+A256KW and RSA-OAEP-256 with
// A256GCM, A128GCM or A128CBC-HS256 to encrypt) and the rules on keys:
// which key of a set may be used for what, and which key sets are refused
// outright (private or symmetric keys in a client's set).
//
// Signing goes through the store for every token: a store that is sealed,
// closed or unreachable makes Sign fail with the store's error
// (keys.ErrSealed, keys.ErrClosed, keys.ErrUnavailable, wrapped), and the
// caller issues nothing. Verify and Decrypt serve Go tests that play a
// relying party, and any code that must read a compact JWS or JWE.
package jwt
