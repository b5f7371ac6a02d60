package vault

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// SSE-C: a customer-provided key, sent with each request and never stored,
// adds a layer under the tenant key. The data key of each blob is sealed
// with the customer key first, then wrapped by the tenant's KEK as usual, so
// that key rotation and rewrapping never need the customer's key, and a read
// needs both. Coffre keeps only a MAC that recognizes the key (to tell a
// wrong key from a damaged record) and the key's MD5, which S3 echoes.

// Errors of SSE-C.
var (
	// ErrCustomerKeyRequired: the object is SSE-C and no key was given.
	ErrCustomerKeyRequired = errors.New("the object was stored using a form of Server Side Encryption; the correct parameters must be provided to retrieve the object")
	// ErrCustomerKeyMismatch: a key was given, not the object's.
	ErrCustomerKeyMismatch = errors.New("the provided customer key does not match the key the object was stored with")
	// ErrCustomerKeyNotApplicable: a key was given for an object without SSE-C.
	ErrCustomerKeyNotApplicable = errors.New("the encryption parameters are not applicable to this object")
)

// CustomerKeySize is the size of an SSE-C key (AES-256).
const CustomerKeySize = 32

// SSEC records that data is sealed with a customer key.
type SSEC struct {
	KeyMD5 string `json:"md5"`  // base64 MD5 of the key, as S3 echoes it
	Salt   string `json:"salt"` // the MAC's salt: the first blob or the upload id
	MAC    []byte `json:"mac"`  // HMAC-SHA256(key, "coffre sse-c v1" 0x00 salt)
}

func newSSEC(key []byte, salt string) *SSEC {
	sum := md5.Sum(key)
	return &SSEC{KeyMD5: base64.StdEncoding.EncodeToString(sum[:]), Salt: salt, MAC: ssecMAC(key, salt)}
}

func ssecMAC(key []byte, salt string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("coffre sse-c v1\x00" + salt))
	return m.Sum(nil)
}

// check says whether key may open data recorded with s (s nil: no SSE-C).
func (s *SSEC) check(key []byte) error {
	switch {
	case s == nil && key == nil:
		return nil
	case s == nil:
		return ErrCustomerKeyNotApplicable
	case key == nil:
		return ErrCustomerKeyRequired
	case !hmac.Equal(ssecMAC(key, s.Salt), s.MAC):
		return ErrCustomerKeyMismatch
	}
	return nil
}

// UseCustomerKey checks the SSE-C key of a read (nil when the request had
// none) against the object and keeps it for Open.
func (o *Object) UseCustomerKey(key []byte) error {
	if err := o.SSEC.check(key); err != nil {
		return err
	}
	o.customerKey = key
	return nil
}

func customerAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != CustomerKeySize {
		return nil, fmt.Errorf("%w: an SSE-C key has %d bytes", ErrInvalidArgument, CustomerKeySize)
	}
	return newWrapAEAD(key)
}

func customerAD(blob string) []byte { return []byte("coffre sse-c dek v1\x00" + blob) }

// sealForCustomer seals a data key with a customer key.
func sealForCustomer(key, dek []byte, blob string) ([]byte, error) {
	aead, err := customerAEAD(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(dek)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, dek, customerAD(blob)), nil
}

// openForCustomer reverses sealForCustomer.
func openForCustomer(key, sealed []byte, blob string) ([]byte, error) {
	aead, err := customerAEAD(key)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(sealed) < ns+aead.Overhead() {
		return nil, fmt.Errorf("%w: sealed data key of blob %s is truncated", ErrIntegrity, blob)
	}
	dek, err := aead.Open(nil, sealed[:ns], sealed[ns:], customerAD(blob))
	if err != nil {
		return nil, fmt.Errorf("%w: blob %s", ErrCustomerKeyMismatch, blob)
	}
	return dek, nil
}
