package dpop

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/replay"
)

// A vector is one entry of testdata/vectors.json: proofs from elsewhere (RFC
// 9449's own figures first) and the verdict on each.
type vector struct {
	Name        string `json:"name"`
	Comment     string `json:"comment"`
	Proof       string `json:"proof"`
	Method      string `json:"method"`
	URI         string `json:"uri"`
	AccessToken string `json:"access_token"`
	Now         int64  `json:"now"`
	Expect      string `json:"expect"` // success, invalid_dpop_proof, use_dpop_nonce
	JKT         string `json:"jkt"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []vector }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatal("testdata/vectors.json has no vectors")
	}
	return f.Vectors
}

func TestVectors(t *testing.T) {
	for _, vec := range loadVectors(t) {
		t.Run("vector="+vec.Name, func(t *testing.T) {
			v := &Verifier{Replay: replay.New(10), Now: func() time.Time { return time.Unix(vec.Now, 0) }}
			p, err := v.Verify(header(vec.Proof), vec.Method, vec.URI, vec.AccessToken)
			switch vec.Expect {
			case "success":
				if err != nil {
					t.Fatalf("%s: Verify = %v, want success", vec.Comment, err)
				}
				if p.JKT != vec.JKT {
					t.Fatalf("%s: JKT = %s, want %s", vec.Comment, p.JKT, vec.JKT)
				}
			case ErrInvalidProof.Error():
				if !errors.Is(err, ErrInvalidProof) {
					t.Fatalf("%s: Verify = %v, want invalid_dpop_proof", vec.Comment, err)
				}
			case ErrUseNonce.Error():
				if !errors.Is(err, ErrUseNonce) {
					t.Fatalf("%s: Verify = %v, want use_dpop_nonce", vec.Comment, err)
				}
			default:
				t.Fatalf("unknown expect %q", vec.Expect)
			}
		})
	}
}
