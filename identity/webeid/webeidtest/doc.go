// Package webeidtest is a test national PKI for package webeid and its
// users (the OIDC provider's tests, the CLI demo): a root and an issuing CA
// (ECDSA P-384), ID cards whose keys live in SoftHSM2 tokens, and a
// revocation server on loopback with an OCSP responder and a CRL.
//
// A card is a real PKCS#11 token, one per card, made in process
// (C_InitToken through the module the process has loaded, so no module
// restart disturbs other users of it such as keys/pkcs11), holding an EC
// P-384 key pair made by C_GenerateKeyPair, sensitive and never
// extractable. Card.Token signs as the Web eID application does with a
// card: it hashes hash(origin) || hash(nonce) and has the token sign that
// digest with CKM_ECDSA, which returns r||s.
//
// The revocation server's switches (Revoke, SetOCSPDown, SetCRLDown,
// SetOCSPSigner, SetOCSPAge) make the failures a validator must handle.
//
// It needs cgo (PKCS#11) and softhsm2, and fails the test, never skips it,
// when either is missing.
package webeidtest
