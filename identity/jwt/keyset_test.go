package jwt

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// jwkMap returns the JSON members of a key, to build sets by hand.
func jwkMap(t testing.TB, k jose.JSONWebKey) map[string]any {
	t.Helper()
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func setJSON(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	if keys == nil {
		keys = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func with(m map[string]any, kv ...any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func TestParseKeySet(t *testing.T) {
	testKeys(t)
	ec := jwkMap(t, jose.JSONWebKey{Key: &ecKeys["P-256"].PublicKey, KeyID: "ec", Use: "sig", Algorithm: "ES256"})
	ecEnc := jwkMap(t, jose.JSONWebKey{Key: &ecKeys["P-384"].PublicKey, KeyID: "ec-enc", Use: "enc"})
	rsa := jwkMap(t, jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "rsa"})
	weak := jwkMap(t, jose.JSONWebKey{Key: &rsaWeak.PublicKey, KeyID: "weak"})
	ecPriv := jwkMap(t, jose.JSONWebKey{Key: ecKeys["P-256"], KeyID: "ec"})
	rsaPriv := jwkMap(t, jose.JSONWebKey{Key: rsaKey, KeyID: "rsa"})
	x25519 := map[string]any{"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "x"}
	oct := map[string]any{"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "kid": "h"}

	for name, c := range map[string]struct {
		doc  []byte
		kids []string // kept, in order; nil when refused
	}{
		"EC and RSA":               {setJSON(t, ec, ecEnc, rsa), []string{"ec", "ec-enc", "rsa"}},
		"same kid, sig and enc":    {setJSON(t, ec, with(ecEnc, "kid", "ec")), []string{"ec", "ec"}},
		"unknown kty skipped":      {setJSON(t, x25519, ec), []string{"ec"}},
		"unknown member ignored":   {setJSON(t, with(ec, "x-vendor", "1")), []string{"ec"}},
		"weak RSA skipped":         {setJSON(t, weak, ec), []string{"ec"}},
		"other use skipped":        {setJSON(t, with(rsa, "use", "tls"), ec), []string{"ec"}},
		"point off the curve skip": {setJSON(t, with(ec, "kid", "bad", "y", ec["x"]), ec), []string{"ec"}},
		"private EC":               {setJSON(t, ecPriv), nil},
		"private RSA among good":   {setJSON(t, ec, rsaPriv), nil},
		"upper-case D":             {setJSON(t, with(ec, "D", ecPriv["d"])), nil},
		"only p":                   {setJSON(t, with(rsa, "p", rsaPriv["p"])), nil},
		"oct":                      {setJSON(t, oct, ec), nil},
		"oct without k":            {setJSON(t, with(oct, "k", nil), ec), nil},
		"OCT upper-case":           {setJSON(t, with(oct, "kty", "OCT", "k", nil), ec), nil},
		"duplicate kid":            {setJSON(t, ec, with(ec, "use", nil)), nil},
		"two keys without kid":     {setJSON(t, with(rsa, "kid", nil), with(ecEnc, "kid", nil, "use", nil)), nil},
		"only unusable keys":       {setJSON(t, weak, x25519), nil},
		"empty set":                {setJSON(t), nil},
		"no keys member":           {[]byte(`{"key":[]}`), nil},
		"keys not an array":        {[]byte(`{"keys":{}}`), nil},
		"keys null":                {[]byte(`{"keys":null}`), nil},
		"key not an object":        {[]byte(`{"keys":[1]}`), nil},
		"not JSON":                 {[]byte(`keys`), nil},
		"array":                    {[]byte(`[]`), nil},
		"too large":                {append(setJSON(t, ec), strings.Repeat(" ", MaxKeySetSize)...), nil},
		"too many keys":            {manyKeys(t, ec, MaxKeys+1), nil},
		"as many keys as allowed":  {manyKeys(t, ec, MaxKeys), manyKids(MaxKeys)},
	} {
		t.Run("case="+name, func(t *testing.T) {
			set, err := ParseKeySet(c.doc)
			if c.kids == nil {
				if !errors.Is(err, ErrBadKeySet) || set != nil {
					t.Fatalf("ParseKeySet = %v, %v; want ErrBadKeySet", set, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeySet = %v", err)
			}
			var kids []string
			for _, k := range set.Keys {
				kids = append(kids, k.KeyID)
				if !k.IsPublic() {
					t.Errorf("key %q is not public", k.KeyID)
				}
			}
			if fmt.Sprint(kids) != fmt.Sprint(c.kids) {
				t.Fatalf("kept kids %v, want %v", kids, c.kids)
			}
		})
	}
}

func manyKids(n int) []string {
	var kids []string
	for i := range n {
		kids = append(kids, fmt.Sprintf("k%d", i))
	}
	return kids
}

func manyKeys(t testing.TB, k map[string]any, n int) []byte {
	var keys []map[string]any
	for _, kid := range manyKids(n) {
		keys = append(keys, with(k, "kid", kid))
	}
	return setJSON(t, keys...)
}

// TestParseKeySetMessage: the refusal of a private key says what to do.
func TestParseKeySetMessage(t *testing.T) {
	testKeys(t)
	_, err := ParseKeySet(setJSON(t, jwkMap(t, jose.JSONWebKey{Key: ecKeys["P-256"], KeyID: "ec"})))
	if err == nil || !strings.Contains(err.Error(), `member "d"`) || !strings.Contains(err.Error(), "replace this key") {
		t.Fatalf("ParseKeySet(private key) = %v, want a message naming the member and asking to replace the key", err)
	}
}
