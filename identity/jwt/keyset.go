package jwt

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Limits of a client's key set, inline or fetched.
const (
	// MaxKeySetSize is the largest key set document read: 256 KiB, room
	// for dozens of keys with certificate chains.
	MaxKeySetSize = 256 << 10
	// MaxKeys is the most keys a set may hold.
	MaxKeys = 100
)

// privateMembers are the JWK members that carry private or secret key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4; "priv" of RFC 9964 AKP keys).
var privateMembers = map[string]bool{
	"d": true, "p": true, "q": true, "dp": true, "dq": true, "qi": true, "oth": true,
	"k": true, "priv": true,
}

// ParseKeySet reads a client's JWK Set (RFC 7517 §5), inline in its
// registration or fetched from its jwks_uri, and returns its usable public
// keys.
//
// The whole set is refused (ErrBadKeySet) when it is not a JSON object
// with a "keys" array, is larger than MaxKeySetSize or holds more than
// MaxKeys keys, when any key carries private or secret material (a client
// that published its private key must replace it, not have it ignored) or
// is symmetric ("oct"), when two usable keys share a kid and a use (a kid
// would not say which one signed), or when no key is usable.
//
// Keys this package cannot use are skipped, as RFC 7517 §5 asks: an
// unknown kty or curve, a "use" other than "sig" or "enc", an RSA modulus
// under 2048 bits, a key that does not parse.
func ParseKeySet(data []byte) (*jose.JSONWebKeySet, error) {
	if len(data) > MaxKeySetSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBadKeySet, len(data), MaxKeySetSize)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", ErrBadKeySet, err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(doc["keys"], &raws); err != nil || raws == nil {
		return nil, fmt.Errorf("%w: want a \"keys\" array", ErrBadKeySet)
	}
	if len(raws) > MaxKeys {
		return nil, fmt.Errorf("%w: %d keys, at most %d", ErrBadKeySet, len(raws), MaxKeys)
	}
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	var skipped []string
	type kidUse struct{ kid, use string }
	seen := make(map[kidUse]bool)
	for i, raw := range raws {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			return nil, fmt.Errorf("%w: key %d is not a JSON object", ErrBadKeySet, i)
		}
		for name := range members {
			// encoding/json matches member names without regard to
			// case, and so does go-jose's parser: so must this check.
			if privateMembers[strings.ToLower(name)] {
				return nil, fmt.Errorf("%w: key %d holds private key material (member %q): publish only public keys, and replace this key, which is no longer secret", ErrBadKeySet, i, name)
			}
		}
		var kty string
		json.Unmarshal(members["kty"], &kty)
		if strings.EqualFold(kty, "oct") {
			return nil, fmt.Errorf("%w: key %d is a symmetric (oct) key: a key set holds public keys only", ErrBadKeySet, i)
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		if !k.IsPublic() || !k.Valid() {
			// Unreachable given the member check, kept as the rule itself.
			return nil, fmt.Errorf("%w: key %d is not a public key", ErrBadKeySet, i)
		}
		if k.Use != "" && k.Use != "sig" && k.Use != "enc" {
			skipped = append(skipped, fmt.Sprintf("key %d: use %q", i, k.Use))
			continue
		}
		if pub, ok := k.Key.(*rsa.PublicKey); ok && pub.N.BitLen() < minRSABits {
			skipped = append(skipped, fmt.Sprintf("key %d: RSA key of %d bits, want %d or more", i, pub.N.BitLen(), minRSABits))
			continue
		}
		for _, use := range []string{"sig", "enc"} {
			if k.Use != "" && k.Use != use {
				continue
			}
			if seen[kidUse{k.KeyID, use}] {
				return nil, fmt.Errorf("%w: two keys with kid %q for use %q", ErrBadKeySet, k.KeyID, use)
			}
			seen[kidUse{k.KeyID, use}] = true
		}
		set.Keys = append(set.Keys, k)
	}
	if len(set.Keys) == 0 {
		why := "the set is empty"
		if len(skipped) > 0 {
			why = strings.Join(skipped, "; ")
		}
		return nil, fmt.Errorf("%w: no usable key (%s)", ErrBadKeySet, why)
	}
	return set, nil
}
