package s3api

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"

	"github.com/coffre-cloud/coffre/vault"
)

const (
	ssecPrefix     = "x-amz-server-side-encryption-customer-"
	copySSECPrefix = "x-amz-copy-source-server-side-encryption-customer-"
)

// customerKey reads the SSE-C headers with the given prefix: nil when there
// are none. S3 requires TLS for them (the key travels in a header); Coffre
// also accepts loopback, where the embedded default serves plain HTTP.
func customerKey(r *request, prefix string) ([]byte, error) {
	alg, k64, md5b64 := r.Header.Get(prefix+"algorithm"), r.Header.Get(prefix+"key"), r.Header.Get(prefix+"key-MD5")
	if alg == "" && k64 == "" && md5b64 == "" {
		return nil, nil
	}
	if r.TLS == nil && !fromLoopback(r.Request) {
		return nil, &APIError{"InvalidRequest", http.StatusBadRequest, "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection."}
	}
	if alg != "AES256" {
		return nil, &APIError{"InvalidEncryptionAlgorithmError", http.StatusBadRequest, "The encryption request you specified is not valid. The valid value is AES256."}
	}
	key, err := base64.StdEncoding.DecodeString(k64)
	if err != nil || len(key) != vault.CustomerKeySize {
		return nil, &APIError{"InvalidArgument", http.StatusBadRequest, "The secret key was invalid for the specified algorithm."}
	}
	sum := md5.Sum(key)
	want, err := base64.StdEncoding.DecodeString(md5b64)
	if err != nil || subtle.ConstantTimeCompare(sum[:], want) != 1 {
		return nil, &APIError{"InvalidArgument", http.StatusBadRequest, "The calculated MD5 hash of the key did not match the hash that was provided."}
	}
	return key, nil
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// setSSECHeaders echoes the SSE-C algorithm and key MD5 of an object.
func setSSECHeaders(h http.Header, s *vault.SSEC) {
	if s != nil {
		h.Set(ssecPrefix+"algorithm", "AES256")
		h.Set(ssecPrefix+"key-MD5", s.KeyMD5)
	}
}
