// Package jws is the strict reading of a compact JWS and of its JSON
// members that Coffre's verifiers of client-made tokens share:
// identity/dpop for DPoP proofs (RFC 9449) and identity/clientauth for
// private_key_jwt client assertions (RFC 7523). Both are JWTs a client
// signs with its own key, checked at the token and PAR endpoints under the
// FAPI 2.0 security profile, and both leave the JOSE work to go-jose.
//
// What this package owns is what go-jose leaves to the application or
// tolerates, so that a token has one reading only: SplitCompact refuses
// what go-jose's parser would accept (whitespace, padding, non-canonical
// base64url, an empty payload); DecodeObject refuses duplicate member
// names, which RFC 7519 §4 lets a parser accept in any way it likes;
// Object reads typed members exactly by name, NumericDate within year
// 9999; CheckExtensions refuses crit and b64; IsType compares typ values
// as RFC 7515 §4.1.9 says; NotAsymmetric, CheckKey and MinRSABits are the
// algorithm and key rules of FAPI 2.0 §5.4.1 (no HMAC, no "none", RSA of
// 2048 bits or more, a key that fits its algorithm). ParseSigned is
// go-jose's parser with an error that names the accepted algorithms.
//
// Errors carry no kind and no package prefix: each caller wraps them in
// its own (dpop.ErrInvalidProof, clientauth.ErrInvalidClient), and their
// text, which names the member and what it must be, ends up in an OAuth
// error_description. The package is internal because its rules are those
// of these two verifiers, not a general JOSE library; identity/jwt is the
// provider's JOSE layer for the tokens it issues itself. Subpackage jwstest
// holds the fixed test keys and the standard-library signer both verifiers'
// tests and fuzz targets use.
package jws
