// Package totp implements time-based one-time passwords (RFC 6238) as the
// provider's second factor for accounts that have no passkey or ID card:
// HMAC-SHA-1, 6 digits, a 30-second step, the one profile every
// authenticator app reads from an otpauth:// key URI. There are no options;
// the profile is the interoperable one, and the RFC's SHA-256 and SHA-512
// variants exist only inside the package, to run the RFC's test vectors.
//
// The package computes and checks codes; the caller keeps, per account, the
// secret (wrapped by the site key store, never logged) and the last step a
// code was accepted for, which Validate needs to refuse a replayed code.
// Rate-limiting guesses is also the caller's: six digits are 20 bits, and
// with a window of three steps an attacker allowed unlimited guesses finds
// a valid code in about 330 000 tries.
package totp
