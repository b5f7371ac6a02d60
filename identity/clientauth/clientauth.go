package clientauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/coffre-cloud/coffre/identity/internal/jws"
	"github.com/coffre-cloud/coffre/identity/replay"
	"github.com/go-jose/go-jose/v4"
)

// AssertionType is the client_assertion_type of private_key_jwt (RFC 7523
// §2.2); the caller refuses any other before calling Verify.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// ErrInvalidClient is the kind of every refusal of an assertion: OAuth
// error "invalid_client", status 401 (RFC 6749 §5.2). The wrapping error
// says which check failed.
var ErrInvalidClient = errors.New("invalid_client")

const (
	// MaxAssertionSize bounds an assertion. One signed with a 4096-bit RSA
	// key, with a kid, takes about 1.5 KiB.
	MaxAssertionSize = 8 << 10

	// DefaultMaxLifetime is how long an assertion may live when the
	// Verifier does not say: its exp at most this far after its iat and
	// after now. Clients make one per request: oauth4webapi and
	// openid-client give theirs 60 s, Nimbus-based clients a few minutes.
	DefaultMaxLifetime = 5 * time.Minute

	// Skew is the clock difference tolerated on exp, nbf and iat. FAPI 2.0
	// §5.3.2.1 requires accepting an iat or nbf 10 s in the future and
	// refusing one more than 60 s ahead.
	Skew = 10 * time.Second

	// MinRSABits is the smallest RSA key accepted, FAPI 2.0 §5.4.1's.
	MinRSABits = jws.MinRSABits

	// explicitType is the typ of draft-ietf-oauth-rfc7523bis.
	explicitType = "client-authentication+jwt"
)

// defaultAlgs are FAPI 2.0 §5.4.1's algorithms.
var defaultAlgs = []jose.SignatureAlgorithm{jose.PS256, jose.ES256, jose.EdDSA}

// A Verifier checks client assertions. Its fields are read, never written,
// by Verify: a Verifier is safe for concurrent use once configured.
type Verifier struct {
	// Audiences identify this server in aud. The first is the issuer
	// identifier (RFC 8414), required; the others, for instance the token
	// and PAR endpoint URLs that RFC 7523 and RFC 9126 §2 let clients use,
	// are accepted only without StrictAudience. Values are compared as
	// strings, exactly (RFC 7523 §3).
	Audiences []string

	// StrictAudience accepts only an aud that is a JSON string equal to
	// Audiences[0]: FAPI 2.0 §5.3.2.1 and draft-ietf-oauth-rfc7523bis. See
	// the package documentation.
	StrictAudience bool

	// Algs are the accepted signature algorithms; nil means PS256, ES256
	// and EdDSA, those of FAPI 2.0 §5.4.1. Only asymmetric algorithms are
	// allowed: Verify fails on a configuration naming another.
	Algs []jose.SignatureAlgorithm

	// MaxLifetime bounds exp−iat and exp−now; zero means
	// DefaultMaxLifetime. It also bounds how long a jti is remembered.
	MaxLifetime time.Duration

	// Replay records each assertion's jti, scoped by client, until its exp
	// (RFC 7523 §3 item 7). It is required: Verify refuses to check
	// assertions without it rather than accept replays.
	Replay *replay.Set

	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verify checks that assertion authenticates the client clientID, whose
// registered public keys are keys: a compact JWS of at most
// MaxAssertionSize bytes; a typ, if any, of JWT or
// client-authentication+jwt; an accepted asymmetric alg; a signature by a
// key of keys (the one named by the kid header, or, without kid, any key
// that fits the algorithm; keys marked for encryption, restricted to
// another alg, private or too small are never used, and the header's own
// jwk, jku, x5c or x5u never are); iss and sub equal to clientID; aud as
// described for Verifier.Audiences; exp present, not passed and at most
// MaxLifetime ahead; nbf and iat, if present, not in the future; exp−iat
// at most MaxLifetime; a jti used once. Skew is tolerated on every time.
// The jti is recorded last, so a refused assertion uses nothing up.
//
// Refusals wrap ErrInvalidClient. A misconfigured Verifier and
// replay.ErrFull are the server's own failures.
func (v *Verifier) Verify(assertion, clientID string, keys *jose.JSONWebKeySet) error {
	algs, err := v.algorithms()
	if err != nil {
		return err
	}
	if len(v.Audiences) == 0 || v.Audiences[0] == "" {
		return errors.New("clientauth: Verifier.Audiences must start with the issuer identifier")
	}
	if v.Replay == nil {
		return errors.New("clientauth: Verifier.Replay is nil: assertions cannot be checked for replay (give it a replay.New set)")
	}
	now := v.now()
	if clientID == "" {
		return invalid("no client identifier")
	}
	if len(assertion) > MaxAssertionSize {
		return invalid("the assertion is %d bytes, more than the %d accepted", len(assertion), MaxAssertionSize)
	}
	header, payload, err := jws.SplitCompact(assertion)
	if err != nil {
		return invalid("client_assertion is not one compact JWS: %v", err)
	}
	hdr, err := jws.DecodeObject(header)
	if err != nil {
		return invalid("JOSE header: %v", err)
	}
	t, err := hdr.String("typ")
	if err != nil {
		return invalid("%v", err)
	}
	explicit := jws.IsType(t, explicitType)
	if t != "" && !explicit && !jws.IsType(t, "JWT") {
		return invalid("typ %q is another kind of JWT; a client assertion has typ JWT, %s or none", t, explicitType)
	}
	if err := jws.CheckExtensions(hdr); err != nil {
		return invalid("%v", err)
	}

	signed, err := jws.ParseSigned(assertion, algs)
	if err != nil {
		return invalid("%v", err)
	}
	sig := signed.Signatures[0]
	alg := jose.SignatureAlgorithm(sig.Header.Algorithm)
	candidates, err := signingKeys(keys, sig.Header.KeyID, alg)
	if err != nil {
		return invalid("%v", err)
	}
	verified := false
	for _, k := range candidates {
		if _, err := signed.Verify(k.Key); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return invalid("the signature does not verify with the client's registered key%s", plural(len(candidates)))
	}

	claims, err := jws.DecodeObject(payload)
	if err != nil {
		return invalid("claims: %v", err)
	}
	for _, name := range []string{"iss", "sub"} {
		s, err := claims.RequiredString(name)
		if err != nil {
			return invalid("%v", err)
		}
		if s != clientID {
			return invalid("%s %q is not the client_id %q; both iss and sub are the client_id (RFC 7523 §3)", name, s, clientID)
		}
	}
	if err := v.checkAudience(claims["aud"], explicit); err != nil {
		return invalid("%v", err)
	}

	maxLife := v.maxLifetime()
	exp, ok, err := claims.NumericDate("exp")
	switch {
	case err != nil:
		return invalid("%v", err)
	case !ok:
		return invalid("the exp claim is required")
	case now.After(exp.Add(Skew)):
		return invalid("the assertion expired at %s; make a new one for each request", stamp(exp))
	case exp.Sub(now) > maxLife+Skew:
		return invalid("exp %s is %s ahead; an assertion may live %s at most", stamp(exp), exp.Sub(now).Round(time.Second), maxLife)
	}
	for _, name := range []string{"nbf", "iat"} {
		at, ok, err := claims.NumericDate(name)
		switch {
		case err != nil:
			return invalid("%v", err)
		case ok && at.After(now.Add(Skew)):
			return invalid("%s %s is %s in the future; check the client's clock", name, stamp(at), at.Sub(now).Round(time.Second))
		case ok && name == "iat" && exp.Sub(at) > maxLife:
			return invalid("the assertion lives %s (exp − iat); %s at most", exp.Sub(at).Round(time.Second), maxLife)
		}
	}
	jti, err := claims.RequiredString("jti")
	if err != nil {
		return invalid("%v", err)
	}

	// Scoped by client: one client cannot use up another's identifiers.
	key := "client-assertion\x00" + strconv.Itoa(len(clientID)) + ":" + clientID + "\x00" + jti
	switch err := v.Replay.UseAt(key, exp.Add(Skew), now); {
	case errors.Is(err, replay.ErrReplay):
		return invalid("jti %q was already used; make a new assertion for each request", jti)
	case errors.Is(err, replay.ErrExpired):
		return invalid("the assertion has expired")
	case err != nil:
		return fmt.Errorf("clientauth: recording jti: %w", err)
	}
	return nil
}

// checkAudience checks the aud claim (raw nil when absent).
func (v *Verifier) checkAudience(raw json.RawMessage, explicit bool) error {
	if raw == nil {
		return errors.New("the aud claim is required")
	}
	issuer := v.Audiences[0]
	var auds []string
	isArray := raw[0] == '['
	if err := json.Unmarshal(raw, &auds); !isArray || err != nil {
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return errors.New("aud must be a string or an array of strings")
		}
		auds = []string{s}
	}
	if v.StrictAudience || explicit {
		if isArray || auds[0] != issuer {
			return fmt.Errorf("aud must be the issuer identifier %q, as a string and alone (FAPI 2.0 §5.3.2.1, draft-ietf-oauth-rfc7523bis); it is %s", issuer, shorten(raw))
		}
		return nil
	}
	for _, a := range auds {
		for _, want := range v.Audiences {
			if a == want {
				return nil
			}
		}
	}
	return fmt.Errorf("aud %s does not name this server; use the issuer identifier %q", shorten(raw), issuer)
}

// signingKeys returns the keys of set that may verify a signature by alg
// with the kid header kid ("" when absent), following FAPI 2.0 §5.4.3
// for duplicate kids: the kid first, then use, alg, key type and curve.
func signingKeys(set *jose.JSONWebKeySet, kid string, alg jose.SignatureAlgorithm) ([]jose.JSONWebKey, error) {
	if set == nil || len(set.Keys) == 0 {
		return nil, errors.New("the client has no registered keys")
	}
	var out []jose.JSONWebKey
	var refusal error
	named := false
	for _, k := range set.Keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		named = true
		var err error
		switch {
		case k.Use != "" && k.Use != "sig":
			err = fmt.Errorf("the key %q is for %q, not signatures", k.KeyID, k.Use)
		case k.Algorithm != "" && k.Algorithm != string(alg):
			err = fmt.Errorf("the key %q is restricted to %s", k.KeyID, k.Algorithm)
		case !k.Valid() || !k.IsPublic():
			err = fmt.Errorf("the key %q is not a public key", k.KeyID)
		default:
			err = jws.CheckKey(&k, alg)
		}
		if err != nil {
			if refusal == nil {
				refusal = err
			}
			continue
		}
		out = append(out, k)
	}
	switch {
	case len(out) > 0:
		return out, nil
	case kid != "" && !named:
		return nil, fmt.Errorf("the client has no registered key with kid %q", kid)
	case kid != "":
		return nil, fmt.Errorf("the registered key %q cannot verify %s: %v", kid, alg, refusal)
	}
	return nil, fmt.Errorf("the client has no registered key for %s", alg)
}

// UnverifiedIssuer returns the iss claim of assertion without verifying
// anything, for finding the client when the request has no client_id (RFC
// 7523 §3 lets a client omit it). Use it only to look the client up: Verify
// then checks iss against that client's identifier and keys.
func UnverifiedIssuer(assertion string) (string, error) {
	if len(assertion) > MaxAssertionSize {
		return "", invalid("the assertion is %d bytes, more than the %d accepted", len(assertion), MaxAssertionSize)
	}
	_, payload, err := jws.SplitCompact(assertion)
	if err != nil {
		return "", invalid("client_assertion is not one compact JWS: %v", err)
	}
	claims, err := jws.DecodeObject(payload)
	if err != nil {
		return "", invalid("claims: %v", err)
	}
	iss, err := claims.RequiredString("iss")
	if err != nil {
		return "", invalid("%v", err)
	}
	return iss, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxLifetime() time.Duration {
	if v.MaxLifetime > 0 {
		return v.MaxLifetime
	}
	return DefaultMaxLifetime
}

func (v *Verifier) algorithms() ([]jose.SignatureAlgorithm, error) {
	if len(v.Algs) == 0 {
		return defaultAlgs, nil
	}
	if a, ok := jws.NotAsymmetric(v.Algs); ok {
		return nil, fmt.Errorf("clientauth: Verifier.Algs names %q; only asymmetric signature algorithms are allowed (private_key_jwt)", a)
	}
	return v.Algs, nil
}

// invalid returns an error of kind ErrInvalidClient.
func invalid(format string, args ...any) error {
	return fmt.Errorf("clientauth: %w: %s", ErrInvalidClient, fmt.Sprintf(format, args...))
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// shorten shows a raw claim for an error message.
func shorten(raw json.RawMessage) string {
	if len(raw) > 128 {
		return string(raw[:128]) + "..."
	}
	return string(raw)
}
