// Package vault orchestrates every S3 request below the HTTP layer: it checks
// who may do what, places bytes on a backend, and commits the typed model
// (tenants, access keys, buckets, object versions, multipart uploads) to the
// metadata store. Access keys are permanent, or temporary (session.go): made
// by S3 STS for an agent, with a session token, an expiry and a role, and
// deleted by the janitor once expired.
//
// The vault is the one place that knows the order of a write: stream the body
// to a fresh blob (durable when the backend acknowledges it), then commit the
// metadata that makes it visible in one transaction, then delete what the new
// version replaced. A crash between the two steps leaves an unreferenced blob
// that the next start sweeps away; it never leaves a visible half-object.
// Deletions are journalled in the same transaction that hides the data, so a
// crash after the commit only delays the removal of the bytes.
//
// The package knows nothing of HTTP; s3api translates its sentinel errors
// into S3 error codes in one table.
package vault
