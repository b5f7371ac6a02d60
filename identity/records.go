package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Sentinel errors of the register; wrapped with context, tested with
// errors.Is.
var (
	// ErrNotFound: no such resident, client, grant or agent.
	ErrNotFound = errors.New("identity: not found")
	// ErrInvalid: a record the register refuses (missing or malformed
	// field); the message says which.
	ErrInvalid = errors.New("identity: invalid record")
	// ErrUnavailable: the key store does not answer or is sealed; the
	// register cannot read or write sealed records until it is back.
	ErrUnavailable = errors.New("identity: register unavailable (key store)")
)

// Resident is a person of the population register.
type Resident struct {
	// NationalNumber identifies the resident; it never leaves the provider
	// (relying parties get a pairwise sub).
	NationalNumber string `json:"nn"`
	// The identity pivot, as FranceConnect+ names it: given names
	// (space-separated), family name, birth date (YYYY-MM-DD), gender
	// ("female", "male"), birthplace and birth country (codes of the
	// register).
	GivenName    string `json:"given_name"`
	FamilyName   string `json:"family_name"`
	Birthdate    string `json:"birthdate"`
	Gender       string `json:"gender"`
	Birthplace   string `json:"birthplace,omitempty"`
	Birthcountry string `json:"birthcountry,omitempty"`
	// Contacts the resident gave; released only when present.
	Email string `json:"email,omitempty"`
	Phone string `json:"phone_number,omitempty"`

	// PasswordHash is an argon2id PHC string (identity/password); empty
	// until the resident chose a password.
	PasswordHash string `json:"pw,omitempty"`
	// TOTP secret (RFC 6238) and the last time step accepted (replay).
	TOTPSecret   []byte `json:"totp,omitempty"`
	TOTPLastStep int64  `json:"totp_step,omitempty"`
	// Passkeys are WebAuthn credentials, as go-webauthn's Credential
	// marshals them.
	Passkeys []json.RawMessage `json:"passkeys,omitempty"`
	// WebAuthnID is the user handle given to authenticators: random, so
	// that it says nothing about the person.
	WebAuthnID []byte `json:"webauthn_id,omitempty"`
	// Activation is the SHA-256 of the activation code an operator gave the
	// resident out of band (NewActivationCode), and ActivationExpires the
	// end of its validity: the code is the second factor of the one login
	// during which the resident enrolls a passkey, and is then cleared.
	Activation        []byte    `json:"activation,omitempty"`
	ActivationExpires time.Time `json:"activation_exp,omitzero"`
	// Cards are the resident's identity cards.
	Cards []Card `json:"cards,omitempty"`

	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Card is an identity or residence card: the certificate of its
// authentication key.
type Card struct {
	// Certificate is the DER of the card's authentication certificate.
	Certificate []byte `json:"cert"`
	// Fingerprint is the hex SHA-256 of Certificate.
	Fingerprint string    `json:"fp"`
	Revoked     bool      `json:"revoked,omitempty"`
	RevokedAt   time.Time `json:"revoked_at,omitzero"`
}

var (
	nationalNumberRE = regexp.MustCompile(`^[0-9A-Za-z]{4,32}$`)
	dateRE           = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// Validate checks the fields a relying party relies on.
func (r *Resident) Validate() error {
	switch {
	case !nationalNumberRE.MatchString(r.NationalNumber):
		return fmt.Errorf("%w: national number %q: 4 to 32 letters or digits", ErrInvalid, r.NationalNumber)
	case strings.TrimSpace(r.GivenName) == "" || strings.TrimSpace(r.FamilyName) == "":
		return fmt.Errorf("%w: resident %s: given and family names are required", ErrInvalid, r.NationalNumber)
	case !dateRE.MatchString(r.Birthdate):
		return fmt.Errorf("%w: resident %s: birthdate %q: want YYYY-MM-DD", ErrInvalid, r.NationalNumber, r.Birthdate)
	case r.Gender != "female" && r.Gender != "male":
		return fmt.Errorf("%w: resident %s: gender %q: want female or male", ErrInvalid, r.NationalNumber, r.Gender)
	}
	if _, err := time.Parse(time.DateOnly, r.Birthdate); err != nil {
		return fmt.Errorf("%w: resident %s: birthdate %q is not a date", ErrInvalid, r.NationalNumber, r.Birthdate)
	}
	return nil
}

// Client is a relying party registered by an operator.
type Client struct {
	ID   string `json:"client_id"`
	Name string `json:"client_name"`
	// RedirectURIs are compared exactly (no pattern, no prefix).
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// The client's public keys: inline, or where to fetch them. They
	// verify its private_key_jwt assertions and receive its encrypted
	// tokens.
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI string          `json:"jwks_uri,omitempty"`
	// Sector groups the services that see the same pairwise sub; empty:
	// the client's own (its first redirect URI's host).
	Sector string `json:"sector_identifier,omitempty"`
	// Strict is the FAPI 2.0 profile: PAR, private_key_jwt, DPoP and PKCE
	// required. On by default for new clients.
	Strict bool `json:"strict"`
	// Scopes the client may ask for (openid is always allowed).
	Scopes []string `json:"scopes,omitempty"`
	// Encryption of the id_token and the userinfo response to the client's
	// keys (JWE alg and enc); empty alg: signed only. UserinfoSigned
	// answers userinfo as a signed JWT rather than JSON.
	IDTokenEncAlg  string `json:"id_token_encrypted_response_alg,omitempty"`
	IDTokenEncEnc  string `json:"id_token_encrypted_response_enc,omitempty"`
	UserinfoSigned bool   `json:"userinfo_signed,omitempty"`
	UserinfoEncAlg string `json:"userinfo_encrypted_response_alg,omitempty"`
	UserinfoEncEnc string `json:"userinfo_encrypted_response_enc,omitempty"`
	// STS lets the client's id_tokens be exchanged for temporary S3
	// credentials of the vault (STS AssumeRoleWithWebIdentity, identity/sts):
	// whoever holds such a token can then act for the resident's tenants.
	// Off by default: a service that only logs residents in must not be
	// able to use their S3 rights.
	STS bool `json:"sts,omitempty"`
	// Revoked clients are refused everywhere; their grants no longer work.
	Revoked bool      `json:"revoked,omitempty"`
	Created time.Time `json:"created"`
}

var clientIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$`)

// Validate checks a client's registration.
func (c *Client) Validate() error {
	if !clientIDRE.MatchString(c.ID) {
		return fmt.Errorf("%w: client_id %q: 3 to 64 letters, digits, '.', '_' or '-'", ErrInvalid, c.ID)
	}
	if len(c.RedirectURIs) == 0 {
		return fmt.Errorf("%w: client %s: at least one redirect URI is required", ErrInvalid, c.ID)
	}
	for _, u := range slices.Concat(c.RedirectURIs, c.PostLogoutRedirectURIs) {
		if err := checkRedirectURI(u); err != nil {
			return fmt.Errorf("%w: client %s: %v", ErrInvalid, c.ID, err)
		}
	}
	if len(c.JWKS) == 0 && c.JWKSURI == "" {
		return fmt.Errorf("%w: client %s: its public keys are required (jwks or jwks_uri)", ErrInvalid, c.ID)
	}
	if c.JWKSURI != "" {
		if err := checkHTTPSOrLoopback(c.JWKSURI); err != nil {
			return fmt.Errorf("%w: client %s: jwks_uri: %v", ErrInvalid, c.ID, err)
		}
	}
	if (c.IDTokenEncAlg == "") != (c.IDTokenEncEnc == "") || (c.UserinfoEncAlg == "") != (c.UserinfoEncEnc == "") {
		return fmt.Errorf("%w: client %s: an encryption alg needs its enc, and the other way round", ErrInvalid, c.ID)
	}
	return nil
}

// SectorID returns the sector of the client's pairwise subjects.
func (c *Client) SectorID() string {
	if c.Sector != "" {
		return c.Sector
	}
	if len(c.RedirectURIs) > 0 {
		if u, err := url.Parse(c.RedirectURIs[0]); err == nil {
			return u.Hostname()
		}
	}
	return c.ID
}

// checkRedirectURI accepts absolute https URIs, and http on loopback hosts
// (RFC 8252 native apps, tests), without fragment.
func checkRedirectURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("redirect URI %q is not an absolute URL", s)
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("redirect URI %q has a fragment", s)
	}
	return checkHTTPSOrLoopback(s)
}

func checkHTTPSOrLoopback(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: plain http only on a loopback host", s)
	}
	return fmt.Errorf("%q: scheme must be https", s)
}

// IsLoopbackHost reports whether host is localhost or a loopback address.
func IsLoopbackHost(host string) bool {
	switch host {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return strings.HasPrefix(host, "127.") && strings.Count(host, ".") == 3
}

// AgentRoles are the roles an agent may hold in a tenant, as S3 STS grants
// them (docs/sts.md): reader reads, writer also writes objects, admin does
// everything the tenant's own keys can.
var AgentRoles = []string{"reader", "writer", "admin"}

// Agent is a resident acting for an administration: its tenant in the
// vault, and its roles there.
type Agent struct {
	NationalNumber string   `json:"nn"`
	Tenant         string   `json:"tenant"`
	Roles          []string `json:"roles"`
}

// Grant is what a resident consented to for a client, and the refresh
// token that keeps it alive: it outlives the authorization code and is
// revoked as a whole (logout, a replayed code or refresh token, a revoked
// client or card).
type Grant struct {
	ID             string    `json:"id"`
	ClientID       string    `json:"client_id"`
	NationalNumber string    `json:"nn"`
	Sub            string    `json:"sub"`
	Scopes         []string  `json:"scopes"`
	Claims         []string  `json:"claims"`
	ACR            string    `json:"acr"`
	AMR            []string  `json:"amr"`
	AuthTime       time.Time `json:"auth_time"`
	SessionID      string    `json:"sid,omitempty"`
	// JKT is the DPoP key thumbprint the tokens are bound to.
	JKT string `json:"jkt,omitempty"`
	// RefreshHash is the SHA-256 of the current refresh token, and
	// PrevRefreshHash that of the one it replaced: presenting the old one
	// again is a replay, which revokes the grant.
	RefreshHash     []byte    `json:"rt,omitempty"`
	PrevRefreshHash []byte    `json:"prev_rt,omitempty"`
	RefreshExpires  time.Time `json:"rt_exp,omitzero"`
	Expires         time.Time `json:"exp"`
	Revoked         bool      `json:"revoked,omitempty"`
	RevokedReason   string    `json:"revoked_reason,omitempty"`
	Created         time.Time `json:"created"`
}
