package dpop

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/coffre-cloud/coffre/identity/internal/jws"
	"github.com/go-jose/go-jose/v4"
)

// oauthCode returns the OAuth error code for err and whether err is the
// client's fault (a 4xx) rather than the server's.
func oauthCode(err error) (code string, client bool) {
	switch {
	case errors.Is(err, ErrUseNonce):
		return "use_dpop_nonce", true
	case errors.Is(err, ErrInvalidProof), errors.Is(err, ErrMissing):
		return "invalid_dpop_proof", true
	}
	return "temporarily_unavailable", false
}

// WriteTokenError answers a token or PAR request whose proof Verify refused
// with err (RFC 9449 §5, §8): 400 and a JSON body {"error":
// "invalid_dpop_proof" or "use_dpop_nonce", "error_description": ...}, or,
// for the server's own failures (a full replay set, a misconfigured
// Verifier), 503 temporarily_unavailable without details. When nonces is
// not nil the response carries a DPoP-Nonce header with its current nonce,
// which is what a use_dpop_nonce client retries with.
func WriteTokenError(w http.ResponseWriter, err error, nonces *Nonces) {
	code, client := oauthCode(err)
	status, desc := http.StatusBadRequest, description(err)
	if !client {
		status, desc = http.StatusServiceUnavailable, "the server cannot check DPoP proofs now; try again later"
	}
	h := w.Header()
	setCommon(h, nonces)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, desc})
}

// WriteResourceError answers a protected resource request whose proof
// Verify refused with err (RFC 9449 §7.1, §9): 401 with the
// WWW-Authenticate challenge of ResourceChallenge, or 503 for the server's
// own failures. err nil answers a request that carried no credentials at
// all: 401 with a challenge naming no error. algs are the accepted
// algorithms (Verifier.Algorithms). When nonces is not nil the response
// carries a DPoP-Nonce header with its current nonce.
//
// A resource refusing the access token itself (unknown, expired, or bound
// to another key than the proof's) answers error="invalid_token" in its
// own challenge instead, as in RFC 9449 Figure 16.
func WriteResourceError(w http.ResponseWriter, err error, algs []jose.SignatureAlgorithm, nonces *Nonces) {
	_, client := oauthCode(err)
	if err == nil {
		client = true
	}
	h := w.Header()
	setCommon(h, nonces)
	if !client {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	h.Set("WWW-Authenticate", ResourceChallenge(err, algs))
	w.WriteHeader(http.StatusUnauthorized)
}

// ResourceChallenge returns the value of the WWW-Authenticate header with
// which a protected resource refuses a request for err (RFC 9449 §7.1):
//
//	DPoP error="invalid_dpop_proof", error_description="...", algs="ES256 PS256 EdDSA"
//	DPoP error="use_dpop_nonce", error_description="...", algs="..."
//	DPoP algs="..."                       (err nil: the request had no credentials)
//
// algs nil means the Verifier default.
func ResourceChallenge(err error, algs []jose.SignatureAlgorithm) string {
	if len(algs) == 0 {
		algs = defaultAlgs
	}
	a := `algs="` + jws.JoinAlgs(algs) + `"`
	if err == nil {
		return "DPoP " + a
	}
	code, client := oauthCode(err)
	desc := description(err)
	if !client {
		// A challenge names what the client can fix; the server's own
		// failure is not described to it.
		code, desc = "invalid_dpop_proof", "the server cannot check DPoP proofs now; try again later"
	}
	return `DPoP error="` + code + `", error_description="` + desc + `", ` + a
}

// setCommon sets what every answer carries: no caching (RFC 9449 §8.2: a
// response with a nonce must not be replayed from a cache) and the nonce.
func setCommon(h http.Header, nonces *Nonces) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if nonces != nil {
		h.Set("DPoP-Nonce", nonces.Current())
	}
}

// maxDescription bounds an error_description: it echoes parts of the proof.
const maxDescription = 300

// description returns err's message as an error_description: without the
// package prefix and kind, at most maxDescription bytes, and restricted to
// the characters RFC 6749 §5.2 and RFC 6750 §3 allow (%x20-21 / %x23-5B /
// %x5D-7E), so it can go in a quoted-string unescaped.
func description(err error) string {
	s := err.Error()
	for _, p := range []string{"dpop: ", ErrInvalidProof.Error() + ": ", ErrUseNonce.Error() + ": "} {
		s = strings.TrimPrefix(s, p)
	}
	if len(s) > maxDescription {
		s = s[:maxDescription]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}
