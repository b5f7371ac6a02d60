// Package swift is the backend.Store of an OpenStack Swift container: the
// engine of `swift` offers, the State's internal clouds. It speaks Swift's
// native object API through github.com/ncw/swift/v2, which logs in with
// Keystone v3 (password or application credential, scoped to a project,
// endpoint picked by region and interface) or tempauth v1.0.
//
// # Layout
//
// A blob is the object of the same name in one container, which Open
// creates if it is missing. Blobs above SegmentSize are static large
// objects (SLO): a manifest under the blob's name and segments under
// "+segments/NAME/UPLOAD/NNNNNNNN" in the same container. No valid blob
// name contains '+', so segments never collide with blobs, and List starts
// past them. Any other object that is not a valid blob name is skipped.
//
// # Writing
//
// Put takes one of three ways, by size:
//
//   - Up to BufferSize (8 MiB) of known size, and blobs of unknown size that
//     end within it: read into memory, checked against the size, then sent
//     with their MD5 as ETag, so that Swift verifies the bytes before it
//     stores them (422 otherwise). The request is retried on transient
//     errors (see Retries) because the bytes are at hand.
//   - Up to SegmentSize (5 GiB, or the cluster's max_file_size if lower) of
//     known size: streamed with a Content-Length, hashed on the way, and
//     the MD5 compared with the ETag Swift returns; on a mismatch (bytes
//     changed in transit) the object is deleted and Put fails. Vault blobs
//     above 8 MiB take this way, but for the last 1.25 MiB below the
//     vault's 5 GiB limit.
//   - Larger blobs (a 5 GiB object with the crypt format's overhead, 72
//     bytes and 16 per 64 KiB, is past Swift's 5 GiB and 2 bytes), and
//     blobs of unknown size beyond the buffer: streamed as segments, each
//     checked like the previous way, then the manifest, which Swift
//     accepts only if every segment has the ETag and size it lists. At
//     most the cluster's max_manifest_segments segments (1000 by default,
//     so 5 TB).
//
// Atomicity is Swift's: an object becomes visible only once the proxy has
// its whole body, and a manifest makes a large blob appear whole, at once.
// Put never hands Swift a complete body unless the reader had exactly size
// bytes: the last bytes of a stream go out only once the reader has been
// seen to end, so a reader that is too long, too short or failing, or a
// cancelled context, aborts the request before Swift stores anything.
// Durability is Swift's too: an object server answers only after fsync,
// and the proxy only once a quorum of replicas answered.
//
// When the connection fails after the whole body was sent, the outcome is
// unknown: Put then asks (HEAD) whether the object with its MD5 is there,
// and succeeds if it is. If the cluster cannot even be asked, Put fails and
// the blob may exist; the vault's sweep removes such unreferenced blobs.
//
// # Retries
//
// Every request is retried, up to Retries times with exponential backoff
// (RetryBase doubling up to RetryMax, the upper half random), when it
// failed transiently: a connection refused, reset or cut, a timeout, or a
// status 408, 422 (a buffered Put only), 429, 498, 500, 502, 503 or 504.
// A 401 logs in again once (an expired token) without counting. A
// streamed Put or segment is retried only when the request failed before
// any byte of the reader was consumed: a consumed stream cannot be sent
// again. A Get's response that breaks midway resumes where it stopped with
// a Range request, as long as the object is still the same version (ETag
// and timestamp); otherwise the reader fails rather than splice versions.
// Other errors are returned at once: ErrAuth (wrapped) when credentials or
// permissions fail, with what to check.
//
// # Limits
//
// Replacing a large blob, or a Put or Delete that could not remove its
// segments (the cluster unreachable), leaves segments behind under
// "+segments/NAME/". The vault never replaces a blob (each write has a
// fresh name), and Delete removes a large blob's segments with it.
// Timestamps come from the proxy's clock (X-Timestamp, to the
// microsecond), for Stat and List alike.
package swift
