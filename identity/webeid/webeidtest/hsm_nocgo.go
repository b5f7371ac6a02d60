//go:build !cgo

package webeidtest

import (
	"crypto/ecdsa"
	"errors"
	"testing"
)

// errNoCgo: the cards live in SoftHSM2, reached through PKCS#11, which
// needs cgo (github.com/miekg/pkcs11 dlopens the module).
var errNoCgo = errors.New("webeidtest: ID cards live in SoftHSM2 through PKCS#11, which needs cgo: run the tests with CGO_ENABLED=1")

type cardToken struct{}

func newCardToken(tb testing.TB) (*cardToken, *ecdsa.PublicKey) {
	tb.Helper()
	tb.Fatal(errNoCgo)
	return nil, nil
}

func (*cardToken) sign([]byte) ([]byte, error) { return nil, errNoCgo }
