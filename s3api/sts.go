package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/coffre-cloud/coffre/vault"
)

// AWS STS AssumeRoleWithWebIdentity, served on the S3 port so that the aws
// cli and the SDKs work unchanged with --endpoint-url: an agent exchanges an
// id_token of the identity provider for temporary S3 credentials of its
// tenant, with one of the roles of vault.Role.
//
// It is the only request served without a signature, and it is recognised
// narrowly (isAssumeRoleWithWebIdentity): a request to "/" that is a POST
// form, or a GET with Action=AssumeRoleWithWebIdentity, and only when a
// WebIdentity is configured. Such a request never reaches dispatch: the
// token is its credential, and all it can do is mint a temporary key of the
// tenant and role the WebIdentity allows.

// WebIdentity decides whether the bearer of a web identity token (an
// OpenID Connect id_token) may act for a tenant with a role. cmd/coffre
// wires it to the identity provider; s3api speaks the STS protocol and makes
// the vault's temporary key.
type WebIdentity interface {
	// AssumeRole checks token, and that the person it names may take role
	// in tenant; a token is good for one exchange. It returns what the STS
	// answer and the audit log show, filled as far as the checks got even
	// with an error (a refusal is logged with the person and client when
	// they are known). Errors wrap the sentinels below; any other error is
	// a server failure.
	AssumeRole(ctx context.Context, token, tenant, role string) (WebIdentityGrant, error)
}

// WebIdentityGrant is what a WebIdentity learned from a token.
type WebIdentityGrant struct {
	Subject  string // the token's sub: SubjectFromWebIdentityToken
	Audience string // the client it was issued to (aud)
	Provider string // its issuer (iss)
	// Ref names the person in audit logs (the identity register's
	// reference); never a national number.
	Ref string
}

// Errors of a WebIdentity, answered with the STS error in their comment.
var (
	// ErrInvalidIdentityToken: a token that is not the provider's (another
	// key, another issuer, garbage), already exchanged, or issued to a
	// client whose tokens may not be exchanged. InvalidIdentityToken, 400.
	ErrInvalidIdentityToken = errors.New("the web identity token could not be validated")
	// ErrExpiredIdentityToken: an expired token. ExpiredTokenException, 400.
	ErrExpiredIdentityToken = errors.New("the web identity token has expired")
	// ErrIdentityClaimRejected: the provider no longer stands by the
	// token's claims (a revoked client, an unknown subject).
	// IDPRejectedClaim, 403.
	ErrIdentityClaimRejected = errors.New("the identity provider rejected the token's claims")
	// ErrIdentityUnavailable: the provider cannot decide now (its register
	// or key store is unavailable, its replay set is full); the client may
	// retry. IDPCommunicationError, 400.
	ErrIdentityUnavailable = errors.New("the identity provider could not be reached")
	// ErrRoleNotAllowed: the person is not an agent of the tenant with the
	// role. AccessDenied, 403.
	ErrRoleNotAllowed = errors.New("not authorized to perform sts:AssumeRoleWithWebIdentity")
)

const (
	stsNS             = "https://sts.amazonaws.com/doc/2011-06-15/"
	stsVersion        = "2011-06-15"
	actionAssumeRole  = "AssumeRoleWithWebIdentity"
	maxSTSForm        = 64 << 10
	defaultSessionDur = time.Hour // DurationSeconds when absent, as in AWS
)

// stsError is an STS error answer.
type stsError struct {
	Code    string
	Status  int
	Message string
}

func (e *stsError) Error() string { return e.Code + ": " + e.Message }

func validationError(format string, args ...any) *stsError {
	return &stsError{"ValidationError", http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

var stsInternal = &stsError{"InternalFailure", http.StatusInternalServerError, "The request processing has failed because of an unknown error. Please try again."}

// stsErrorTable maps the WebIdentity sentinels, and the vault's errors of
// a temporary key, to STS codes.
var stsErrorTable = []struct {
	err    error
	code   string
	status int
}{
	{ErrInvalidIdentityToken, "InvalidIdentityToken", http.StatusBadRequest},
	{ErrExpiredIdentityToken, "ExpiredTokenException", http.StatusBadRequest},
	{ErrIdentityClaimRejected, "IDPRejectedClaim", http.StatusForbidden},
	{ErrIdentityUnavailable, "IDPCommunicationError", http.StatusBadRequest},
	{ErrRoleNotAllowed, "AccessDenied", http.StatusForbidden},
	{vault.ErrNoSuchTenant, "AccessDenied", http.StatusForbidden},
	{vault.ErrKeyDestroyed, "AccessDenied", http.StatusForbidden},
	{vault.ErrKeyUnavailable, "ServiceUnavailable", http.StatusServiceUnavailable},
	{vault.ErrMetadataUnavailable, "ServiceUnavailable", http.StatusServiceUnavailable},
}

func toSTSError(err error) (*stsError, bool) {
	var se *stsError
	if errors.As(err, &se) {
		return se, true
	}
	for _, e := range stsErrorTable {
		if errors.Is(err, e.err) {
			return &stsError{e.code, e.status, err.Error()}, true
		}
	}
	return stsInternal, false
}

// isAssumeRoleWithWebIdentity reports whether r is an STS request: to "/",
// a GET naming the action in its query, or a POST form (whose action is
// read from the body; "/" takes no other POST).
func isAssumeRoleWithWebIdentity(r *request) bool {
	if r.bucket != "" || r.key != "" {
		return false
	}
	switch r.Method {
	case http.MethodGet:
		return r.query.Get("Action") == actionAssumeRole
	case http.MethodPost:
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		return mt == "application/x-www-form-urlencoded"
	}
	return false
}

// stsRequest is an AssumeRoleWithWebIdentity request, checked.
type stsRequest struct {
	partition, tenant, role string
	session                 string
	token                   string
	duration                time.Duration
}

var (
	// roleARN is arn:coffre:iam::TENANT:role/ROLE; the aws partition is
	// accepted too, for tools that check the partition of ARNs.
	roleARN     = regexp.MustCompile(`^arn:(coffre|aws):iam::([a-z0-9][a-z0-9-]{1,62}):role/([A-Za-z0-9+=,.@_-]{1,64})$`)
	sessionName = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

// parseSTS reads and checks the parameters, as the STS API reference
// constrains them.
func (s *Server) parseSTS(w http.ResponseWriter, r *request) (*stsRequest, error) {
	if r.Method == http.MethodPost {
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.idle))
		r.Body = http.MaxBytesReader(w, r.Body, maxSTSForm)
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, validationError("the request body is larger than %d bytes", maxSTSForm)
		}
		return nil, validationError("the request body is not a well-formed form")
	}
	f := r.Form
	for k, v := range f {
		if len(v) > 1 {
			return nil, validationError("parameter %s is repeated", clip(k, 64))
		}
	}
	if a := f.Get("Action"); a != actionAssumeRole {
		return nil, &stsError{"InvalidAction", http.StatusBadRequest, fmt.Sprintf("Could not find operation %q: this endpoint serves only %s", clip(a, 64), actionAssumeRole)}
	}
	if v := f.Get("Version"); v != "" && v != stsVersion {
		return nil, &stsError{"InvalidAction", http.StatusBadRequest, fmt.Sprintf("Could not find operation %s for version %s (this endpoint serves %s)", actionAssumeRole, clip(v, 32), stsVersion)}
	}
	for k := range f {
		if k == "Policy" || strings.HasPrefix(k, "PolicyArns.") {
			return nil, validationError("session policies (Policy, PolicyArns) are not supported: the roles are reader, writer and admin, each for a whole tenant")
		}
	}
	var q stsRequest
	arn := f.Get("RoleArn")
	if arn == "" {
		return nil, validationError("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	}
	m := roleARN.FindStringSubmatch(arn)
	if m == nil {
		return nil, validationError("RoleArn %q is not a role of this server: want arn:coffre:iam::TENANT:role/ROLE, ROLE reader, writer or admin", clip(arn, 128))
	}
	q.partition, q.tenant, q.role = m[1], m[2], m[3]
	if q.session = f.Get("RoleSessionName"); !sessionName.MatchString(q.session) {
		return nil, validationError("RoleSessionName %q: want 2 to 64 letters, digits or _+=,.@-", clip(q.session, 80))
	}
	if q.token = f.Get("WebIdentityToken"); len(q.token) < 4 || len(q.token) > 20000 {
		return nil, validationError("WebIdentityToken must have 4 to 20000 characters")
	}
	q.duration = defaultSessionDur
	if d := f.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < int(vault.MinSessionDuration/time.Second) || n > int(vault.MaxSessionDuration/time.Second) {
			return nil, validationError("DurationSeconds %q: want %d to %d seconds", clip(d, 20), int(vault.MinSessionDuration/time.Second), int(vault.MaxSessionDuration/time.Second))
		}
		q.duration = time.Duration(n) * time.Second
	}
	return &q, nil
}

// assumeRoleWithWebIdentity serves the STS action, its answer and its
// errors in the STS XML, and logs every exchange and refusal.
func (s *Server) assumeRoleWithWebIdentity(w http.ResponseWriter, r *request) {
	var g WebIdentityGrant
	var key vault.AccessKey
	q, err := s.parseSTS(w, r)
	if err == nil && !vault.Role(q.role).Valid() {
		err = fmt.Errorf("%w: role %s does not exist (the roles are reader, writer and admin)", ErrRoleNotAllowed, q.role)
	}
	var token string
	if err == nil {
		g, err = s.web.AssumeRole(r.Context(), q.token, q.tenant, q.role)
	}
	if err == nil {
		key, token, err = s.vault.CreateTemporaryKey(r.Context(), q.tenant, vault.Role(q.role), q.duration, g.Ref)
	}
	s.logSTS(r, q, g, key, err)
	if err != nil {
		s.writeSTSError(w, r, err)
		return
	}
	res := assumeRoleWithWebIdentityResponse{NS: stsNS, RequestID: r.id}
	res.Result.Credentials = stsCredentials{
		AccessKeyID:     key.ID,
		SecretAccessKey: key.Secret,
		SessionToken:    token,
		Expiration:      key.Expires.UTC().Format(time.RFC3339),
	}
	res.Result.SubjectFromWebIdentityToken = g.Subject
	res.Result.Audience = g.Audience
	res.Result.Provider = g.Provider
	res.Result.AssumedRoleUser.Arn = "arn:" + q.partition + ":sts::" + q.tenant + ":assumed-role/" + q.role + "/" + q.session
	res.Result.AssumedRoleUser.AssumedRoleID = key.ID + ":" + q.session
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("Cache-Control", "no-store")
	h.Set("x-amzn-RequestId", r.id)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(res)
}

// logSTS logs an exchange or a refusal with the audit fields: time, subject
// (the register's reference: never a national number), client, tenant,
// role, result and source.
func (s *Server) logSTS(r *request, q *stsRequest, g WebIdentityGrant, key vault.AccessKey, err error) {
	attrs := []slog.Attr{
		slog.String("event", "sts.assume_role"),
		slog.Time("time", time.Now().UTC()),
		slog.String("subject", g.Ref),
		slog.String("client", g.Audience),
	}
	if q != nil {
		attrs = append(attrs, slog.String("tenant", q.tenant), slog.String("role", q.role), slog.String("session", q.session))
	}
	level := slog.LevelInfo
	if err == nil {
		attrs = append(attrs, slog.String("result", "ok"), slog.String("access_key", key.ID), slog.Time("expires", key.Expires))
	} else {
		se, known := toSTSError(err)
		attrs = append(attrs, slog.String("result", se.Code), slog.String("reason", err.Error()))
		if !known {
			level = slog.LevelError
		}
	}
	attrs = append(attrs, slog.String("source", remoteHost(r.RemoteAddr)), slog.String("request_id", r.id))
	s.log.LogAttrs(r.Context(), level, "sts event", attrs...)
}

func (s *Server) writeSTSError(w http.ResponseWriter, r *request, err error) {
	se, _ := toSTSError(err)
	typ := "Sender"
	if se.Status >= 500 {
		typ = "Receiver"
	}
	body := stsErrorResponse{NS: stsNS, RequestID: r.id}
	body.Error.Type, body.Error.Code, body.Error.Message = typ, se.Code, se.Message
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("x-amzn-RequestId", r.id)
	w.WriteHeader(se.Status)
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(body)
}

func remoteHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// clip bounds client text quoted in answers and logs.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

type assumeRoleWithWebIdentityResponse struct {
	XMLName xml.Name `xml:"AssumeRoleWithWebIdentityResponse"`
	NS      string   `xml:"xmlns,attr"`
	Result  struct {
		Credentials                 stsCredentials `xml:"Credentials"`
		SubjectFromWebIdentityToken string         `xml:"SubjectFromWebIdentityToken"`
		Audience                    string         `xml:"Audience"`
		AssumedRoleUser             struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
		Provider string `xml:"Provider"`
	} `xml:"AssumeRoleWithWebIdentityResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type stsErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	NS      string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}
