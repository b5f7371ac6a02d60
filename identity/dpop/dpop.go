package dpop

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/coffre-cloud/coffre/identity/internal/jws"
	"github.com/coffre-cloud/coffre/identity/replay"
	"github.com/go-jose/go-jose/v4"
)

// The error kinds of Verify; see the package documentation for the
// response each one calls for.
var (
	// ErrMissing reports a request without a DPoP header.
	ErrMissing = errors.New("dpop: the request has no DPoP header")

	// ErrInvalidProof reports a proof that fails a check of RFC 9449 §4.3,
	// OAuth error "invalid_dpop_proof". The wrapping error says which.
	ErrInvalidProof = errors.New("invalid_dpop_proof")

	// ErrUseNonce reports a valid proof without a current server nonce,
	// OAuth error "use_dpop_nonce": the client retries with the nonce of
	// the DPoP-Nonce header sent with the error.
	ErrUseNonce = errors.New("use_dpop_nonce")
)

const (
	// MaxProofSize bounds the DPoP header value. A proof signed with a
	// 4096-bit RSA key (the largest go-jose accepts) takes about 2.5 KiB.
	MaxProofSize = 8 << 10

	// DefaultWindow is how long after its iat a proof is accepted when the
	// Verifier does not say: RFC 9449 §11.1 asks for "seconds or minutes".
	DefaultWindow = 60 * time.Second

	// Skew is how far in the future a proof's iat may be. FAPI 2.0 §5.3.2.1
	// requires accepting 10 s and refusing more than 60 s.
	Skew = 10 * time.Second

	// typ is the explicit type of a proof (RFC 9449 §4.2).
	typ = "dpop+jwt"
)

// defaultAlgs are FAPI 2.0 §5.4.1's algorithms.
var defaultAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.PS256, jose.EdDSA}

// A Verifier checks DPoP proofs. Its fields are read, never written, by
// Verify: a Verifier is safe for concurrent use once configured.
type Verifier struct {
	// Algs are the accepted signature algorithms; nil means ES256, PS256
	// and EdDSA, those of FAPI 2.0 §5.4.1. Only asymmetric algorithms are
	// allowed: Verify fails on a configuration naming another.
	Algs []jose.SignatureAlgorithm

	// Window is how long after its iat a proof is accepted; zero means
	// DefaultWindow. A proof's iat may also be up to Skew in the future.
	Window time.Duration

	// Replay records each proof's jti, scoped by key and target URI, until
	// iat+Window (RFC 9449 §11.1). It is required: Verify refuses to check
	// proofs without it rather than accept replays.
	Replay *replay.Set

	// Nonces, when not nil, makes a current server nonce (RFC 9449 §8, §9)
	// mandatory in every proof; nil requires none.
	Nonces *Nonces

	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// A Proof is what a verified DPoP proof establishes.
type Proof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of Key, base64url-encoded:
	// the value of cnf.jkt in a bound token and of dpop_jkt.
	JKT string
	// Key is the proof's public key, from its jwk header.
	Key jose.JSONWebKey
	// JTI is the proof's unique identifier.
	JTI string
	// IssuedAt is the proof's iat.
	IssuedAt time.Time
}

// Algorithms returns the algorithms v accepts, for the algs parameter of a
// challenge and for dpop_signing_alg_values_supported in the provider's
// metadata.
func (v *Verifier) Algorithms() []jose.SignatureAlgorithm {
	if len(v.Algs) == 0 {
		return append([]jose.SignatureAlgorithm(nil), defaultAlgs...)
	}
	return append([]jose.SignatureAlgorithm(nil), v.Algs...)
}

// Verify checks the DPoP proof of a request whose method and target URI are
// given, following RFC 9449 §4.3: exactly one DPoP header, holding one
// compact JWS of at most MaxProofSize bytes; typ dpop+jwt; an accepted
// asymmetric alg; a public jwk that verifies the signature; the claims jti,
// htm (equal to method), htu (equal to uri once both are normalized and
// stripped of query and fragment, see below) and iat (at most Window old, at
// most Skew ahead); ath, when accessToken is not empty, equal to the
// base64url SHA-256 of accessToken; nonce, when v.Nonces is set, a nonce it
// issued that has not expired. The jti is recorded last, so a refused proof
// uses nothing up.
//
// uri is the URI the server is reachable at for this request, built from
// configuration (the issuer's or resource's public base URL) and the
// request path. Before comparison both URIs get the syntax-based and
// scheme-based normalizations of RFC 3986 §6.2.2 and §6.2.3 that RFC 9449
// §4.3 recommends: scheme and host lowercased, the default port dropped,
// percent-encodings uppercased and unreserved characters decoded, dot
// segments removed, an empty path made "/".
//
// accessToken is the token of the Authorization: DPoP header at a protected
// resource, or "" at the token and PAR endpoints (where an ath claim is then
// ignored). At a resource the caller must also check that the token's
// cnf.jkt equals the returned Proof's JKT.
//
// Errors wrap ErrMissing, ErrInvalidProof or ErrUseNonce, except for a
// misconfigured Verifier or uri and for replay.ErrFull, which are the
// server's own failures.
func (v *Verifier) Verify(h http.Header, method, uri, accessToken string) (*Proof, error) {
	algs, err := v.algorithms()
	if err != nil {
		return nil, err
	}
	if v.Replay == nil {
		return nil, errors.New("dpop: Verifier.Replay is nil: proofs cannot be checked for replay (give it a replay.New set)")
	}
	want, err := normalizeHTU(uri)
	if err != nil {
		return nil, fmt.Errorf("dpop: the request URI %q given to Verify: %v", uri, err)
	}
	now := v.now()

	values := h.Values("DPoP")
	switch {
	case len(values) == 0:
		return nil, ErrMissing
	case len(values) > 1:
		return nil, invalid("the request has %d DPoP headers, RFC 9449 §4.3 allows one", len(values))
	}
	raw := values[0]
	if len(raw) > MaxProofSize {
		return nil, invalid("the proof is %d bytes, more than the %d accepted", len(raw), MaxProofSize)
	}
	header, payload, err := jws.SplitCompact(raw)
	if err != nil {
		return nil, invalid("the DPoP header is not one compact JWS: %v", err)
	}

	// The header, as far as go-jose leaves it to us: the explicit type, no
	// extensions, no private key.
	hdr, err := jws.DecodeObject(header)
	if err != nil {
		return nil, invalid("JOSE header: %v", err)
	}
	if t, err := hdr.String("typ"); err != nil || !jws.IsType(t, typ) {
		return nil, invalid("typ must be %q, not %s", typ, quoteMember(hdr, "typ"))
	}
	if err := jws.CheckExtensions(hdr); err != nil {
		return nil, invalid("%v", err)
	}
	rawJWK, ok := hdr["jwk"]
	if !ok {
		return nil, invalid("the JOSE header has no jwk")
	}
	if err := checkNoPrivateMembers(rawJWK); err != nil {
		return nil, invalid("jwk: %v", err)
	}

	signed, err := jws.ParseSigned(raw, algs)
	if err != nil {
		return nil, invalid("%v", err)
	}
	sig := signed.Signatures[0]
	alg := jose.SignatureAlgorithm(sig.Header.Algorithm)
	jwk := sig.Header.JSONWebKey
	if jwk == nil || !jwk.Valid() || !jwk.IsPublic() {
		return nil, invalid("jwk must be a public key")
	}
	if err := jws.CheckKey(jwk, alg); err != nil {
		return nil, invalid("jwk: %v", err)
	}
	if _, err := signed.Verify(jwk); err != nil {
		return nil, invalid("the signature does not verify with the jwk of the header")
	}

	// The claims, from the verified payload only.
	claims, err := jws.DecodeObject(payload)
	if err != nil {
		return nil, invalid("claims: %v", err)
	}
	jti, err := requiredClaim(claims, "jti")
	if err != nil {
		return nil, invalid("%v", err)
	}
	htm, err := requiredClaim(claims, "htm")
	if err != nil {
		return nil, invalid("%v", err)
	}
	if htm != method {
		return nil, invalid("htm %q does not match the request method %q", htm, method)
	}
	htu, err := requiredClaim(claims, "htu")
	if err != nil {
		return nil, invalid("%v", err)
	}
	got, err := normalizeHTU(htu)
	if err != nil {
		return nil, invalid("htu %q: %v", htu, err)
	}
	if got != want {
		return nil, invalid("htu %q does not match the request URI %q", htu, uri)
	}
	iat, ok, err := claims.NumericDate("iat")
	if err != nil || !ok {
		return nil, invalid("iat must be a number of seconds since the epoch")
	}
	window := v.window()
	if age := now.Sub(iat); age > window {
		return nil, invalid("iat %s is %s old, more than the %s accepted; make a new proof for each request", iat.UTC().Format(time.RFC3339), age.Round(time.Second), window)
	} else if -age > Skew {
		return nil, invalid("iat %s is %s in the future, more than the %s accepted; check the client's clock", iat.UTC().Format(time.RFC3339), (-age).Round(time.Second), Skew)
	}

	if accessToken != "" {
		ath, err := requiredClaim(claims, "ath")
		if err != nil {
			return nil, invalid("%v (a proof sent with an access token must carry its hash)", err)
		}
		sum := sha256.Sum256([]byte(accessToken))
		if subtle.ConstantTimeCompare([]byte(ath), []byte(base64.RawURLEncoding.EncodeToString(sum[:]))) != 1 {
			return nil, invalid("ath is not the hash of the access token sent with the proof")
		}
	}

	if v.Nonces != nil {
		n, err := claims.String("nonce")
		switch {
		case err != nil:
			return nil, fmt.Errorf("dpop: %w: the nonce claim must be a string", ErrUseNonce)
		case n == "":
			return nil, fmt.Errorf("dpop: %w: the server requires a nonce in DPoP proofs; use the DPoP-Nonce header's", ErrUseNonce)
		case !v.Nonces.validAt(n, now):
			return nil, fmt.Errorf("dpop: %w: the nonce is not one this server issued or has expired; use the DPoP-Nonce header's", ErrUseNonce)
		}
	}

	jkt, err := Thumbprint(*jwk)
	if err != nil {
		return nil, invalid("jwk: %v", err)
	}
	// RFC 9449 §11.1 scopes jti to the target URI; the key thumbprint keeps
	// one client from using up another's identifiers.
	key := "dpop\x00" + jkt + "\x00" + strconv.Itoa(len(got)) + ":" + got + "\x00" + jti
	switch err := v.Replay.UseAt(key, iat.Add(window), now); {
	case errors.Is(err, replay.ErrReplay):
		return nil, invalid("jti %q was already used; make a new proof for each request", jti)
	case errors.Is(err, replay.ErrExpired):
		return nil, invalid("the proof has expired")
	case err != nil:
		return nil, fmt.Errorf("dpop: recording jti: %w", err)
	}
	return &Proof{JKT: jkt, Key: *jwk, JTI: jti, IssuedAt: iat}, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) window() time.Duration {
	if v.Window > 0 {
		return v.Window
	}
	return DefaultWindow
}

func (v *Verifier) algorithms() ([]jose.SignatureAlgorithm, error) {
	if len(v.Algs) == 0 {
		return defaultAlgs, nil
	}
	if a, ok := jws.NotAsymmetric(v.Algs); ok {
		return nil, fmt.Errorf("dpop: Verifier.Algs names %q; only asymmetric signature algorithms are allowed (RFC 9449 §4.2)", a)
	}
	return v.Algs, nil
}

// invalid returns an error of kind ErrInvalidProof.
func invalid(format string, args ...any) error {
	return fmt.Errorf("dpop: %w: %s", ErrInvalidProof, fmt.Sprintf(format, args...))
}
