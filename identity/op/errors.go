package op

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// oauthError is an error in the protocol's own form: RFC 6749 §5.2 at the
// token endpoint, RFC 9126 at the PAR endpoint, RFC 6750/9449 at userinfo,
// §4.1.2.1 in an authorization response.
type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	status      int
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func errorf(status int, code, format string, args ...any) *oauthError {
	return &oauthError{Code: code, Description: fmt.Sprintf(format, args...), status: status}
}

// The error codes, each with its usual status.
func invalidRequest(format string, args ...any) *oauthError {
	return errorf(http.StatusBadRequest, "invalid_request", format, args...)
}
func invalidClient(format string, args ...any) *oauthError {
	return errorf(http.StatusUnauthorized, "invalid_client", format, args...)
}
func invalidGrant(format string, args ...any) *oauthError {
	return errorf(http.StatusBadRequest, "invalid_grant", format, args...)
}
func unauthorizedClient(format string, args ...any) *oauthError {
	return errorf(http.StatusBadRequest, "unauthorized_client", format, args...)
}
func invalidScope(format string, args ...any) *oauthError {
	return errorf(http.StatusBadRequest, "invalid_scope", format, args...)
}
func serverBusy(format string, args ...any) *oauthError {
	return errorf(http.StatusServiceUnavailable, "temporarily_unavailable", format, args...)
}

// asOAuth turns any error into an oauthError: unexpected ones become
// temporarily_unavailable (503), never a 500 with internals.
func asOAuth(err error) *oauthError {
	var oe *oauthError
	if errors.As(err, &oe) {
		return oe
	}
	return serverBusy("the identity provider cannot answer now; try again later")
}

// writeJSON answers a JSON document that must not be cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers an oauthError as JSON.
func writeError(w http.ResponseWriter, err error) {
	oe := asOAuth(err)
	if oe.status == http.StatusUnauthorized && oe.Code == "invalid_client" {
		// RFC 6749 §5.2: 401 needs a challenge; private_key_jwt has no
		// HTTP scheme of its own.
		w.Header().Set("WWW-Authenticate", `Bearer realm="coffre", error="invalid_client"`)
	}
	writeJSON(w, oe.status, oe)
}
