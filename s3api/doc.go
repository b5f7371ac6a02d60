// Package s3api is Coffre's S3 HTTP front end: routing (path-style and
// virtual-hosted-style), SigV4 authentication (s3api/sigv4), checksums
// (s3api/checksum), the XML bodies of requests and responses, and the single
// table that maps the vault's errors to S3 error codes and HTTP statuses.
//
// It knows nothing of disks, keys or metadata stores: every request becomes
// calls on a *vault.Vault.
package s3api
