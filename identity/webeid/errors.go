package webeid

import "errors"

// The kinds of failure, tested with errors.Is. Each error returned by the
// package wraps exactly one of them, with the details in front (which
// certificate, which responder, which time): the message goes to logs; the
// kind picks what the user is told.
var (
	// ErrFormat: the token is not a well-formed Web eID authentication
	// token (not JSON, a missing or mistyped field, bad base64, an
	// unsupported format version or algorithm, an unparsable certificate,
	// too large).
	ErrFormat = errors.New("not a well-formed Web eID authentication token")

	// ErrSignature: the token's signature does not verify with the
	// certificate's key over this origin and this challenge, or the
	// algorithm named in the token does not fit the key.
	ErrSignature = errors.New("the ID card's signature does not match this site and this challenge")

	// ErrUntrusted: the certificate does not chain to the trusted roots.
	ErrUntrusted = errors.New("the ID card certificate is not issued by a trusted authority")

	// ErrCertExpired: the certificate (or a CA certificate of its chain) is
	// expired or not yet valid.
	ErrCertExpired = errors.New("the ID card certificate is expired or not yet valid")

	// ErrCertPurpose: the certificate is not meant for authentication (key
	// usage, extended key usage, or a CA certificate).
	ErrCertPurpose = errors.New("the ID card certificate is not meant for authentication")

	// ErrRevoked: the issuer says the certificate is revoked, suspended, or
	// not one it issued (OCSP status unknown).
	ErrRevoked = errors.New("the ID card certificate is revoked")

	// ErrRevocationUnavailable: neither OCSP nor the CRL gave a usable
	// answer, so the certificate is refused (fail closed).
	ErrRevocationUnavailable = errors.New("the revocation status of the ID card certificate cannot be checked now")

	// ErrNonce: the challenge is unknown, expired, already used, or not
	// shaped like a Web eID challenge.
	ErrNonce = errors.New("the login challenge is unknown, expired or already used")

	// ErrSubject: the certificate subject does not name a person by
	// national number (ETSI EN 319 412-1 "PNO" form).
	ErrSubject = errors.New("the ID card certificate does not name a person by national number")

	// ErrTooManyChallenges: Challenges holds as many outstanding challenges
	// as it may; New refuses until some are used or expire.
	ErrTooManyChallenges = errors.New("too many login challenges outstanding")
)
