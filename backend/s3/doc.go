// Package s3 is the backend.Store of a bucket of any S3 implementation
// (AWS, OVHcloud, Outscale, Scaleway, Ceph RGW, MinIO, Swift's s3api): the
// engine of `s3` offers, mostly the dedicated and external tiers. It speaks
// S3 through aws-sdk-go-v2, with SigV4, and asks nothing of the server
// beyond the core API: PutObject, multipart uploads, ranged GetObject,
// HeadObject, DeleteObject, ListObjectsV2, HeadBucket and CreateBucket.
//
// # Layout
//
// A blob is the object whose key is Prefix + its name, in one bucket that
// Open creates if it is missing. List shows only keys under Prefix that
// are valid blob names, so several stores (sites, tiers) can share a
// bucket with different prefixes.
//
// # Writing
//
// Every request body carries its Content-MD5, which every S3 server checks
// before it stores anything; the newer flexible checksums (CRC trailers),
// which many S3 implementations lack, are turned off. Blobs up to PartSize
// (8 MiB) are read into memory, checked against the size, and sent in one
// PutObject. Larger blobs, and blobs of unknown size past PartSize, go as a
// multipart upload: parts of PartSize are read one after the other, up to
// Concurrency of them uploaded at once (so a Put holds at most
// Concurrency+1 parts in memory), and the upload is completed only once
// the reader has been seen to end with exactly the size given. Any failure
// (the reader's, a size mismatch, a cancelled context, a part that could
// not be sent) aborts the upload. An object appears only whole, at once,
// when PutObject or CompleteMultipartUpload succeeds. Durability is the
// server's: S3 acknowledges a write once it is stored redundantly.
//
// When no response comes back for PutObject or CompleteMultipartUpload,
// the outcome is unknown: Put then asks (HeadObject) whether the object
// with its ETag is there, and succeeds if it is. If the server cannot even
// be asked, Put fails and the blob may exist; the vault's sweep removes
// such unreferenced blobs. An abort that cannot reach the server leaves
// the upload's parts stored but invisible: give the bucket a lifecycle
// rule that aborts incomplete multipart uploads after a day.
//
// Over TLS, payloads are not hashed into the signature (UNSIGNED-PAYLOAD:
// TLS protects them, Content-MD5 still checks them); over plain HTTP the
// signature covers them.
//
// # Retries
//
// The SDK's standard retryer, configured here: up to Retries retries with
// exponential backoff and jitter (RetryBase, bounded by RetryMax), no retry
// quota shared between requests, for connection errors, 500, 502, 503, 504,
// throttling and timeout codes, and BadDigest (a body changed in transit).
// Every request body is in memory, so every request can be sent again. A
// Get's response that breaks midway resumes where it stopped, with a Range
// and If-Match on the ETag, so that a blob replaced meanwhile fails the
// read rather than splice two versions. Refused credentials or access give
// errors wrapping ErrAuth, saying what to check.
//
// # Limits
//
// Modification times are the server's clock: to the millisecond in List
// (on AWS), to the second in Stat (HTTP dates). An object is at most
// 10,000 parts; PartSize is raised for blobs that would need more.
package s3
