// Package password hashes and checks the passwords of the provider's
// accounts: argon2id (RFC 9106) in the PHC string format that every other
// argon2 implementation reads, a Limiter that bounds how many hashes run at
// once, and Check, the minimum policy a new password must meet.
//
// The parameters are OWASP's first argon2id configuration, m=19 MiB, t=2,
// p=1, rather than RFC 9106's second recommendation (m=64 MiB, t=3, p=4).
// A password here is never the only factor (TOTP, a passkey or the ID card
// follows it), and the provider runs on 2-core machines where RFC 9106's
// p=4 gains no parallelism: one of its hashes took 67 to 69 ms of both
// cores (about 15 logins a second for the whole machine, 64 MiB each),
// against 17 to 23 ms of one core for ours (about 100 a second on two
// cores, 19 MiB each; see BenchmarkHash). A stolen hash database still costs an attacker 19 MiB and
// two passes per guess. Stored hashes carry their parameters, so Verify
// reads every hash it ever wrote and reports the ones to upgrade
// (needsRehash) when the defaults change.
//
// A password is normalised to Unicode NFKC before hashing, as NIST SP
// 800-63B recommends, so that "é" typed as one code point or as "e" and a
// combining accent is the same password. The normalisation is part of the
// stored format: changing it would lock out every account whose password
// is not ASCII.
//
// The package returns error kinds (ErrTooShort, ErrCommon...); the wording
// shown to a user, in French, is the caller's.
package password
