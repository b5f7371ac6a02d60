// Package dpop checks DPoP proofs (RFC 9449), the sender constraint of
// Coffre's access tokens under the FAPI 2.0 security profile: a client
// signs each request to the token endpoint, the PAR endpoint and the
// resource servers (userinfo, the vault's S3 API) with a key of its own,
// whose RFC 7638 thumbprint the provider writes into the access token
// (cnf.jkt) and, through dpop_jkt, into the authorization code. A stolen
// token is useless without that key.
//
// Verifier.Verify applies every check of RFC 9449 §4.3 to one request and
// returns the proof's key and thumbprint; binding them to a token (cnf.jkt,
// dpop_jkt of RFC 9449 §10) is the caller's job, as is choosing the URI the
// proof must name: build it from the site's configured public URL and the
// request path, never from the Host header, or a proof captured for another
// server would pass. Nonces issues the server nonces of RFC 9449 §8 and §9
// without keeping state. WriteTokenError, WriteResourceError and
// ResourceChallenge turn Verify's errors into the responses RFC 9449
// prescribes, so the mapping lives in one place:
//
//	error                 token and PAR endpoints          protected resource
//	ErrMissing            400 invalid_dpop_proof           401 DPoP error="invalid_dpop_proof"
//	ErrInvalidProof       400 invalid_dpop_proof           401 DPoP error="invalid_dpop_proof"
//	ErrUseNonce           400 use_dpop_nonce               401 DPoP error="use_dpop_nonce"
//	replay.ErrFull        503 temporarily_unavailable      503
//	anything else         503 temporarily_unavailable      503
//
// Every answer carries Cache-Control: no-store and, when the caller has
// Nonces, a fresh DPoP-Nonce header; a 401 carries WWW-Authenticate: DPoP
// with the accepted algorithms. A resource request without any credentials
// is answered with ResourceChallenge(nil, algs), which names no error
// (RFC 6750 §3.1).
//
// Algorithms are those of FAPI 2.0 §5.4.1 unless the Verifier says
// otherwise: ES256, PS256 and EdDSA (Ed25519); RSA keys need 2048 bits or
// more; HMAC and "none" are never accepted, whatever the configuration.
// All JOSE work is go-jose's; this package parses only what go-jose leaves
// to the application (the claims, typ, the htu comparison), with the strict
// compact-JWS reading of identity/internal/jws it shares with
// identity/clientauth.
package dpop
