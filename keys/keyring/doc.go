// Package keyring is the built-in key store of the embedded default: a
// site's root keys (random 32-byte AES-256 keys, versioned), MAC keys and
// ES256 signing keys, kept in one file sealed with AES-256-GCM under a file
// key derived from an unseal key. It implements keys.Store for a single
// process (an exclusive flock on PATH.lock keeps a second one out).
//
// # Unsealing
//
// The kind of unseal key is chosen at Create and written in the file:
//
//   - A passphrase (Passphrase), stretched with argon2id: DefaultArgon2 is
//     time=3, memory=64 MiB, threads=2 (RFC 9106's second recommendation,
//     2 lanes for 2 cores), about 0.17 s per Open on the reference machine,
//     and the same per guess for whoever steals the file. Parameters are
//     stored in the authenticated header (tests lower them with Options).
//   - A random 32-byte unseal key, from a file (UnsealKeyFromFile, which
//     refuses a file readable by group or others) or from COFFRE_UNSEAL_KEY
//     (UnsealKeyFromEnv, which removes the variable once read). It needs no
//     stretching; HKDF-SHA256 derives the file key.
//
// The random key is what lets a server start unattended, and its trade-off
// is where it lives. Next to the keyring (the embedded default's data
// directory), it protects nothing against whoever reads that directory or
// its backups: the keyring is then only as safe as the disk, which is
// acceptable for a demonstration, not for State data. Kept elsewhere (a
// secrets manager injecting COFFRE_UNSEAL_KEY, a tmpfs, a separate volume),
// a stolen data directory or backup no longer yields the keys; but the
// environment of a running process is readable by root and by the same
// user through /proc, and a key file by whoever has its permissions. An
// operator passphrase typed at start avoids both, at the cost of unattended
// restarts. A production site uses an HSM (keys/pkcs11), where no such
// key exists in a file at all.
//
// A wrong unseal key, or an altered file, is keys.ErrSealed with "wrong
// unseal key": GCM cannot tell the two apart. Seal zeroes the keys of a
// running store (an operator's emergency stop) and Unseal brings them back.
//
// # File
//
// The format is in file.go. Every change (Create, Rotate, Retire, new MAC
// or signing key) rewrites the whole file atomically and durably: a
// temporary file in the same directory, fsync, rename (link for Create,
// which never replaces), fsync of the directory. A change is in memory only
// once it is on disk.
//
// # What is zeroed, and what cannot be
//
// Close and Seal overwrite every root, MAC and signing key and the file key
// with zeros; Retire overwrites the retired key once the file no longer
// holds it. Encoded payloads are zeroed after sealing or parsing. Go cannot
// zero some copies: the expanded AES key schedule inside each cached
// cipher.AEAD (one per root version, dropped at Close for the collector),
// the scalar inside a crypto/ecdsa.PrivateKey, HMAC's padded key state
// for each MAC call, argon2's internal buffers, and the string
// COFFRE_UNSEAL_KEY came in. Retire and crypto-shredding are only as final
// as the storage: a rewritten file leaves the old blocks on the disk until
// reused (SSDs keep them longer), and any backup of the keyring file keeps
// every key it held then. Back the keyring up knowingly, or use an HSM.
package keyring
