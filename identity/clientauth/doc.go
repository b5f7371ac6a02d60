// Package clientauth authenticates relying-party clients by private_key_jwt
// (RFC 7523 §2.2 and §3, OpenID Connect Core §9), the only client
// authentication Coffre's provider accepts at its token and PAR endpoints,
// as FAPI 2.0 §5.3.2.1 allows: the client signs a short-lived JWT, the
// client assertion, with a key whose public half it registered (inline jwks
// or jwks_uri), and the provider checks it against those keys alone.
//
// The caller reads client_assertion_type (it must be AssertionType),
// client_assertion and client_id from the form, looks up the client (by
// UnverifiedIssuer when client_id is absent) and its keys, and calls
// Verifier.Verify. Every refusal wraps ErrInvalidClient, answered as OAuth
// error "invalid_client" with status 401 (RFC 6749 §5.2); the message says
// which check failed, for the logs and the error_description. A full replay
// set (replay.ErrFull) is the server's condition, answered 503.
//
// # Audience
//
// Which aud an assertion must carry has changed. RFC 7523 and OpenID
// Connect Core let it be the token endpoint URL, and RFC 9126 §2 has the
// PAR endpoint accept its own URL too; the audience injection attacks
// (University of Stuttgart, disclosed January 2025) showed that accepting
// endpoint URLs lets a malicious authorization server, whose metadata names
// the honest server's endpoints, obtain assertions it can replay there.
// FAPI 2.0 Final §5.3.2.1 therefore has the server "only accept its issuer
// identifier value ... as a string in the aud claim", and
// draft-ietf-oauth-rfc7523bis (in the RFC Editor queue) makes the issuer
// identifier the sole audience value for everyone.
//
// Verifier.Audiences[0] is the issuer identifier. Further entries (the token
// and PAR endpoint URLs), and arrays naming one of the entries, are
// accepted only without StrictAudience, for older clients; a deployment
// that claims FAPI 2.0 sets StrictAudience. An assertion typed
// "client-authentication+jwt" (the explicit type of rfc7523bis) is always
// held to the strict rule, since its client follows rfc7523bis.
//
// Algorithms are FAPI 2.0 §5.4.1's (PS256, ES256, EdDSA) unless the
// Verifier says otherwise; RSA keys need 2048 bits; HMAC (client_secret_jwt)
// and "none" are never accepted. All JOSE work is go-jose's; what it leaves
// to the application (strict compact-JWS reading, duplicate members, typ,
// key and algorithm rules) is identity/internal/jws's, shared with
// identity/dpop.
package clientauth
