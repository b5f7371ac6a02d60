// Package op is Coffre's OpenID Connect provider: the national digital
// identity's protocol endpoints, login and consent pages.
//
// It is written on go-jose rather than on an OIDC framework: the profile it
// implements (FAPI 2.0 security profile: pushed authorization requests,
// private_key_jwt, DPoP-bound tokens, RFC 9207 iss, single-use codes of at
// most 60 s; FranceConnect+ assurance levels eidas1-3 with step-up; pairwise
// subjects; signed then encrypted id_token and userinfo; signing keys that
// never leave the key store) is most of what such a framework would have to
// be bent to, and each piece is a small package of its own (identity/dpop,
// identity/clientauth, identity/jwt, identity/webeid...). README.md says why
// in more words.
//
// State: pushed requests, login interactions, authorization codes and
// browser sessions live in memory (seconds to hours; losing them costs one
// more login); grants and their refresh tokens are in the register, durable.
package op
