// Package remotetest holds what the tests of the network backends
// (backend/s3, backend/swift) share, beyond the conformance suite of
// backend/backendtest: opening stores on fresh buckets or containers of the
// test binary's Swift (internal/testenv), a proxy that injects faults
// between a store and its server (statuses, responses cut midway), and the
// checks every network store must pass when its server fails: errors that
// say what to check, bounded retries, reads resumed across a restart, and
// nothing partial left by a Put the failure interrupted.
//
// Each check takes the store, or the functions that open it, so that both
// backends run the same checks against the same Swift, one through its
// native API and one through its S3 API.
package remotetest
