// Package jwstest is test support for the verifiers built on
// identity/internal/jws (identity/dpop, identity/clientauth): fixed test
// keys, go-jose's signer driven from a claims table, and a second signer
// and verifier written with the standard library alone, so that a test or
// fuzz target does not check go-jose against itself. Only tests import it.
//
// The test keys are fixed (testdata/test-keys.json, made for these tests
// only and embedded here) so that a fuzz input saved in a package's
// testdata/fuzz means the same thing on every run.
package jwstest
