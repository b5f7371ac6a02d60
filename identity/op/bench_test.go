package op

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/password"
	"github.com/coffre-cloud/coffre/identity/rp"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/meta/sqlite"
)

// The benchmarks measure the provider's own work per request: requests go
// straight to its handler (no network), and what the client would compute
// (client assertions, DPoP proofs) is made before the timer starts. Run
// them per core with -cpu 1 (parallel requests then share one core, as
// concurrent clients do):
//
//	go test ./identity/op -run '^$' -bench . -cpu 1 -benchtime 2000x

// benchProvider is a provider on a real SQLite register and keyring, with
// one strict client whose keys the benchmark holds, and one resident.
type benchProvider struct {
	p      *Provider
	h      http.Handler
	reg    *identity.Register
	issuer string
	rp     *rp.Client
	client *identity.Client
	nn     string
}

func newBenchProvider(b *testing.B, params password.Params) *benchProvider {
	b.Helper()
	ctx := context.Background()
	m, err := sqlite.Open(filepath.Join(b.TempDir(), "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	ks := testenv.Keyring(b)
	reg, err := identity.Open(ctx, m, ks)
	if err != nil {
		b.Fatal(err)
	}
	issuer := "http://127.0.0.1:9"
	lim, err := password.NewLimiter(0, params)
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(ctx, Config{Issuer: issuer, Register: reg, Keys: ks, PasswordLimiter: lim, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	sig, enc, dp, _ := rp.NewKeys()
	c := &rp.Client{Issuer: issuer, ID: "bench", RedirectURI: "https://rp.example/cb", SigKey: sig, EncKey: enc, DPoPKey: dp}
	cl := &identity.Client{ID: "bench", Name: "Bench", RedirectURIs: []string{c.RedirectURI}, JWKS: c.JWKS(), Strict: true,
		IDTokenEncAlg: "ECDH-ES", IDTokenEncEnc: "A256GCM"}
	if err := reg.PutClient(ctx, cl); err != nil {
		b.Fatal(err)
	}
	hash, err := password.Hash("correct horse battery staple", params)
	if err != nil {
		b.Fatal(err)
	}
	res := &identity.Resident{NationalNumber: "1234567890", GivenName: "Louise", FamilyName: "Gastaud", Birthdate: "1990-04-12", Gender: "female", PasswordHash: hash}
	if _, err := reg.PutResident(ctx, res); err != nil {
		b.Fatal(err)
	}
	return &benchProvider{p: p, h: p.Handler(), reg: reg, issuer: issuer, rp: c, client: cl, nn: res.NationalNumber}
}

// prepared is a request made before the timer starts.
type prepared struct {
	body, proof string
}

func (bp *benchProvider) assertionForm(b *testing.B, v url.Values) string {
	a, err := bp.rp.Assertion()
	if err != nil {
		b.Fatal(err)
	}
	v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	v.Set("client_assertion", a)
	return v.Encode()
}

func (bp *benchProvider) proof(b *testing.B, method, path, at string) string {
	pr, err := rp.Proof(bp.rp.DPoPKey, method, bp.issuer+path, bp.p.nonces.Current(), at)
	if err != nil {
		b.Fatal(err)
	}
	return pr
}

// run sends the prepared requests from parallel goroutines and fails on
// any answer but want.
func (bp *benchProvider) run(b *testing.B, method, path string, reqs []prepared, auth func(i int) string, want int) {
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			var body io.Reader
			if reqs[i].body != "" {
				body = strings.NewReader(reqs[i].body)
			}
			req := httptest.NewRequest(method, bp.issuer+path, body)
			if body != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			req.Header.Set("DPoP", reqs[i].proof)
			if auth != nil {
				req.Header.Set("Authorization", auth(int(i)))
			}
			rec := httptest.NewRecorder()
			bp.h.ServeHTTP(rec, req)
			if rec.Code != want {
				b.Errorf("%s %s: %d %s", method, path, rec.Code, rec.Body.String())
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkCodeExchange: the token endpoint's authorization_code grant
// with private_key_jwt, DPoP, PKCE, a durable grant, and an id_token signed
// then encrypted (ECDH-ES + A256GCM).
func BenchmarkCodeExchange(b *testing.B) {
	bp := newBenchProvider(b, password.DefaultParams())
	verifier := randomToken(32)
	ch := sha256.Sum256([]byte(verifier))
	ar := &authRequest{client: bp.client, redirectURI: bp.rp.RedirectURI, scopes: []string{"openid"}, codeChallenge: b64(ch[:]), nonce: "n", maxAge: -1}
	reqs := make([]prepared, b.N)
	for i := range reqs {
		code := randomToken(32)
		bp.p.codes.put(code, &codeEntry{req: ar, nn: bp.nn, sub: "sub", acr: "eidas1", amr: []string{"pwd"}, authTime: time.Now()}, time.Now().Add(time.Hour), time.Now())
		reqs[i] = prepared{
			body:  bp.assertionForm(b, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {bp.rp.RedirectURI}, "code_verifier": {verifier}}),
			proof: bp.proof(b, http.MethodPost, pathToken, ""),
		}
	}
	bp.run(b, http.MethodPost, pathToken, reqs, nil, http.StatusOK)
}

// grantWithRefresh stores a grant bound to the benchmark's DPoP key and
// returns its refresh token.
func (bp *benchProvider) grantWithRefresh(b *testing.B) string {
	g := &identity.Grant{ClientID: bp.client.ID, NationalNumber: bp.nn, Sub: "sub", Scopes: []string{"openid"}, ACR: "eidas1",
		AuthTime: time.Now(), JKT: bp.rp.Thumbprint(), Expires: time.Now().Add(time.Hour), RefreshExpires: time.Now().Add(time.Hour)}
	g.ID = identity.NewID()
	rt, h := newRefreshToken(g.ID)
	g.RefreshHash = h
	if err := bp.reg.PutGrant(context.Background(), g); err != nil {
		b.Fatal(err)
	}
	return rt
}

// BenchmarkRefresh: the refresh_token grant with private_key_jwt and DPoP,
// rotating the refresh token (a durable write) and signing a new access
// token.
func BenchmarkRefresh(b *testing.B) {
	bp := newBenchProvider(b, password.DefaultParams())
	reqs := make([]prepared, b.N)
	for i := range reqs {
		reqs[i] = prepared{
			body:  bp.assertionForm(b, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {bp.grantWithRefresh(b)}}),
			proof: bp.proof(b, http.MethodPost, pathToken, ""),
		}
	}
	bp.run(b, http.MethodPost, pathToken, reqs, nil, http.StatusOK)
}

// BenchmarkUserinfo: a DPoP-bound access token and its proof checked, the
// grant, client and resident read, the claims answered as JSON.
func BenchmarkUserinfo(b *testing.B) {
	bp := newBenchProvider(b, password.DefaultParams())
	rt := bp.grantWithRefresh(b)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, bp.issuer+pathToken, strings.NewReader(bp.assertionForm(b, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", bp.proof(b, http.MethodPost, pathToken, ""))
	bp.h.ServeHTTP(rec, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		b.Fatalf("refresh for an access token: %d %s", rec.Code, rec.Body.String())
	}
	reqs := make([]prepared, b.N)
	for i := range reqs {
		reqs[i] = prepared{proof: bp.proof(b, http.MethodGet, pathUserinfo, tok.AccessToken)}
	}
	bp.run(b, http.MethodGet, pathUserinfo, reqs, func(int) string { return "DPoP " + tok.AccessToken }, http.StatusOK)
}

// BenchmarkPasswordLogin: the password step of the login page with the
// default argon2id parameters (password.DefaultParams), up to the redirect
// to consent.
func BenchmarkPasswordLogin(b *testing.B) {
	bp := newBenchProvider(b, password.DefaultParams())
	ar := &authRequest{client: bp.client, redirectURI: bp.rp.RedirectURI, scopes: []string{"openid"}, maxAge: -1}
	ids := make([]string, b.N)
	reqs := make([]prepared, b.N)
	for i := range ids {
		ia := &interaction{id: randomToken(24), req: ar, csrf: randomToken(24), level: -1}
		bp.p.interactions.put(ia.id, ia, time.Now().Add(time.Hour), time.Now())
		ids[i] = ia.id
		reqs[i] = prepared{body: url.Values{"csrf": {ia.csrf}, "username": {bp.nn}, "password": {"correct horse battery staple"}}.Encode()}
	}
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			req := httptest.NewRequest(http.MethodPost, bp.issuer+pathLogin+ids[i]+"/password", strings.NewReader(reqs[i].body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: cookieInteraction, Value: ids[i]})
			// Each login from its own address, as residents log in: the
			// per-source limit is not what is measured.
			req.RemoteAddr = "10.0." + strconv.Itoa(int(i/250)%250) + "." + strconv.Itoa(int(i%250)) + ":1234"
			rec := httptest.NewRecorder()
			bp.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusSeeOther {
				b.Errorf("password step: %d", rec.Code)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
}
