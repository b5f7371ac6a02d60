// Package webeid checks the answer of a resident's ID card to a login
// challenge: the Web eID authentication token (format web-eid:1, see
// https://github.com/web-eid/web-eid-system-architecture-doc), which gives
// the eidas3 assurance level of the identity provider. It is the ID-card
// factor of package identity, with no knowledge of sessions, records or
// OIDC: identity issues a challenge (Challenges.New) and keeps it in the
// browser session, spends it when the token comes back
// (Challenges.Consume), has the token checked (Parse, Validator.Validate:
// certificate purpose and validity, chain to the national roots, the
// card's signature over this site's origin and this challenge, revocation
// by OCSP then CRL, failing closed), and reads who logged in
// (NationalNumber).
//
// # What the card signs
//
// For algorithm A with hash H (SHA-256, -384 or -512 as A ends in 256,
// 384 or 512), the card signs hash(origin) || hash(challenge) with
// signature algorithm A, which hashes that concatenation again: an EC card
// (CKM_ECDSA) is handed H(H(origin) || H(challenge)). origin is the UTF-8
// of the browser's location.origin ("https://id.example", no trailing
// slash) and challenge the UTF-8 of the base64 challenge string as issued,
// not its decoded bytes (format specification, "Clarification on nonce
// processing"; web-eid-app createSignature). Hashing each part first
// separates them: origin "example.com" with challenge ".eu1234" would
// otherwise sign like "example.com.eu" with "1234". ECDSA signatures are
// r||s, each padded to the curve's size, as JWS encodes them and as the
// card returns them; RSASSA-PSS uses a salt as long as the hash (JWA).
//
// Neither the origin nor the challenge travels in the token: Validate
// rebuilds the signed data from the configured origin and the challenge
// the caller kept, so a valid signature proves both at once.
//
// # Errors
//
// Every error wraps one kind (ErrFormat, ErrSignature, ErrUntrusted,
// ErrCertExpired, ErrCertPurpose, ErrRevoked, ErrRevocationUnavailable,
// ErrNonce, ErrSubject, ErrTooManyChallenges) under a message that says
// what happened in plain words; callers map the kind to what the user is
// told, and log the message.
//
// Package webeidtest provides a test national PKI with SoftHSM2 ID cards
// and a revocation server, to test this package and its users against
// real signatures.
package webeid
