// Package crypt is the payload stream of Coffre: the authenticated
// encryption of object bodies between the vault and a storage backend.
//
// Every object version (or multipart part) is sealed under its own random
// data key (DEK) by a Writer while the request body streams in; the vault
// wraps the DEK with the tenant's key and keeps it in the metadata, and only
// the resulting blob reaches a backend. A GET streams the blob back through a
// Reader; a ranged GET fetches and opens only the chunks it needs
// (CipherRange, NewRangeReader, ReaderAt). The byte format is specified in
// docs/format.md ("Payload stream") and pinned by the vectors in
// testdata/vectors, which a test decrypts with the specification alone.
//
// # Construction
//
// One suite, no options, the version in the header. The plaintext is cut
// into 64 KiB chunks, each sealed with AES-256-GCM (crypto/aes,
// crypto/cipher) under a stream key derived with HKDF-SHA256 from the DEK and
// a random 32-byte salt carried in the header; the nonce of a chunk is its
// index and a flag set on the final chunk only, and its associated data is
// the header followed by the caller's context (tenant, bucket, key, version
// or part). This is the STREAM construction of Hoang, Reyhanitabar, Rogaway
// and Vizár (as in age and Tink's AES-GCM-HKDF streaming AEAD), with a key
// commitment in the header.
//
// # What it protects
//
// Against whoever stores or carries the blobs (a storage provider, an
// operator of a backend, a replication link), without the DEK:
//
//   - confidentiality of the payload: AES-256-GCM under a key never used for
//     another stream, even when a DEK is reused (a customer-provided SSE-C key
//     is): the salt makes the (key, nonce) pairs of two streams distinct;
//   - integrity of every chunk and of its position: altered, reordered,
//     duplicated or dropped chunks fail, and so do a blob cut at any point
//     (the final chunk is marked) and data appended after the final chunk;
//   - binding to the object: a blob moved to another object, version or part
//     fails its first chunk, because the associated data differs; a blob from
//     another object sealed with the same DEK fails because its salt, hence
//     its key, differs;
//   - key commitment: the header commits to the DEK, so no blob opens under
//     two keys (AES-GCM alone does not guarantee this), and a wrong key is
//     reported before any chunk is read.
//
// Readers release plaintext only from chunks that authenticated. A sequential
// reader necessarily releases the chunks before a failing one: callers treat
// every byte read as void once a read fails (a GET then aborts its response,
// which the client sees as a truncated transfer rather than a wrong body).
//
// # What it does not protect
//
//   - Sizes: the blob size reveals the plaintext size exactly (there is no
//     padding), and the metadata around it (names, tags, timestamps) is not
//     this package's concern.
//   - Access patterns: which objects and which ranges are read, and when, is
//     visible to the backend.
//   - Freshness, beyond what the keys give: a backend can only replay a blob
//     that opens under the DEK and associated data the vault asks with. The
//     vault draws a DEK per blob (per version, and per upload of a part, so
//     that a retried part cannot be answered with the earlier attempt), which
//     makes every other blob fail at its header; which version is current is
//     the metadata's business.
//   - A range read proves the bytes it returns, not the total size, unless
//     it includes the final chunk.
//   - Associated data is authenticated by GCM, which does not commit to it
//     against someone who holds the DEK; the header commits to the DEK only.
//
// There is no null cipher: encryption cannot be turned off. The end-to-end
// benchmarks measure its cost by comparing against storing plaintext.
package crypt
