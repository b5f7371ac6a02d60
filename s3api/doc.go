// Package s3api is Coffre's S3 HTTP front end: routing (path-style and
// virtual-hosted-style), SigV4 authentication (s3api/sigv4), checksums
// (s3api/checksum), the XML bodies of requests and responses, and the single
// table that maps the vault's errors to S3 error codes and HTTP statuses.
//
// It also serves STS AssumeRoleWithWebIdentity at "/" (sts.go), the one
// unsigned request, which turns an agent's id_token into a temporary key of
// the vault through a WebIdentity that cmd/coffre wires to the identity
// provider; and it enforces the role of a temporary key on every request it
// signs (roles.go), where requests are known as S3 operations.
//
// It knows nothing of disks, keys or metadata stores: every request becomes
// calls on a *vault.Vault.
package s3api
