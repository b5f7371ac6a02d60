package webeid_test

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/coffre-cloud/coffre/identity/webeid"
	"github.com/coffre-cloud/coffre/identity/webeid/webeidtest"
)

// origin is the identity provider's origin in these tests.
const origin = "https://id.coffre.test"

// newNonce issues a challenge as the provider does.
func newNonce(t testing.TB) string {
	t.Helper()
	n, err := webeid.NewChallenges(0, 0).New()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// token has the card authenticate to origin with nonce.
func token(t testing.TB, card *webeidtest.Card, origin, nonce string) []byte {
	t.Helper()
	b, err := card.Token(origin, nonce)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// check parses and validates a token.
func check(ctx context.Context, v *webeid.Validator, b []byte, nonce string) (*x509.Certificate, error) {
	tok, err := webeid.Parse(b)
	if err != nil {
		return nil, err
	}
	return v.Validate(ctx, tok, nonce)
}

// wantKind fails the test unless err is of kind want (nil for success).
func wantKind(t testing.TB, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: %v, want success", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: error %v, want one of kind %q", what, err, want)
	case err != nil:
		t.Logf("%s: %v", what, err)
	}
}
