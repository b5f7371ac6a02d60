package sigv4

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// segment is a piece of a vector body: text, or repeat × count.
type segment struct {
	Text   string `json:"text"`
	Repeat string `json:"repeat"`
	Count  int    `json:"count"`
}

func joinSegments(segs []segment) []byte {
	var b bytes.Buffer
	for _, s := range segs {
		b.WriteString(s.Text)
		b.WriteString(strings.Repeat(s.Repeat, s.Count))
	}
	return b.Bytes()
}

type vector struct {
	Name      string            `json:"name"`
	Comment   string            `json:"comment"`
	Expect    string            `json:"expect"`
	At        string            `json:"at"`
	AccessKey string            `json:"accessKey"`
	Secret    string            `json:"secret"`
	Now       string            `json:"now"`
	Region    string            `json:"region"`
	Method    string            `json:"method"`
	Target    string            `json:"target"`
	Host      string            `json:"host"`
	Headers   [][2]string       `json:"headers"`
	Body      []segment         `json:"body"`
	Decoded   []segment         `json:"decoded"`
	Trailer   map[string]string `json:"trailer"`
}

// loadVectors reads testdata/vectors.json; an empty set fails the test, so
// the vectors cannot silently disappear.
func loadVectors(t testing.TB) []vector {
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("testdata/vectors.json: %v", err)
	}
	if len(file.Vectors) == 0 {
		t.Fatal("testdata/vectors.json holds no vectors")
	}
	return file.Vectors
}

func (vec *vector) request(t testing.TB) *http.Request {
	body := joinSegments(vec.Body)
	r := httptest.NewRequest(vec.Method, vec.Target, bytes.NewReader(body))
	r.Host = vec.Host
	for _, h := range vec.Headers {
		r.Header.Add(h[0], h[1])
	}
	return r
}

func (vec *vector) verifier(t testing.TB) *Verifier {
	now, err := time.Parse(amzDateLayout, vec.Now)
	if err != nil {
		t.Fatalf("vector %s: now: %v", vec.Name, err)
	}
	keys := map[string]string{}
	if vec.AccessKey != "" {
		keys[vec.AccessKey] = vec.Secret
	}
	return &Verifier{Lookup: staticLookup(keys), Now: fixedClock(now), Region: vec.Region}
}

func TestVectors(t *testing.T) {
	for _, vec := range loadVectors(t) {
		t.Run("vector="+vec.Name, func(t *testing.T) {
			if vec.Expect != "ok" && vec.At != "verify" && vec.At != "body" {
				t.Fatalf("vector %s: at=%q, want verify or body", vec.Name, vec.At)
			}
			if vec.Expect != "ok" && sentinels[vec.Expect] == nil {
				t.Fatalf("vector %s: unknown expect %q", vec.Name, vec.Expect)
			}
			res, err := vec.verifier(t).Verify(vec.request(t))
			if vec.At == "verify" {
				if got := kindOf(err); got != vec.Expect {
					t.Fatalf("Verify: %s, want %s", got, vec.Expect)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v, want success", err)
			}
			if got := res.Trailer(); got != nil {
				t.Fatalf("Trailer() before EOF = %v, want nil", got)
			}
			got, err := io.ReadAll(res.Body)
			if vec.Expect != "ok" {
				if k := kindOf(err); k != vec.Expect {
					t.Fatalf("reading Body: %s, want %s", k, vec.Expect)
				}
				if tr := res.Trailer(); tr != nil {
					t.Fatalf("Trailer() after failure = %v, want nil", tr)
				}
				// The error is sticky.
				if _, err2 := res.Body.Read(make([]byte, 1)); kindOf(err2) != vec.Expect {
					t.Fatalf("second read: %v, want %s again", err2, vec.Expect)
				}
				return
			}
			if err != nil {
				t.Fatalf("reading Body: %v", err)
			}
			if want := joinSegments(vec.Decoded); !bytes.Equal(got, want) {
				t.Fatalf("decoded body: %d bytes, want %d bytes (%q...)", len(got), len(want), truncate(string(want), 20))
			}
			if res.DecodedLength != int64(len(got)) {
				t.Fatalf("DecodedLength = %d, want %d", res.DecodedLength, len(got))
			}
			want := http.Header{}
			for k, v := range vec.Trailer {
				want[k] = []string{v}
			}
			gotTr := res.Trailer()
			if len(want) == 0 && len(gotTr) == 0 {
				return
			}
			if !reflect.DeepEqual(gotTr, want) {
				t.Fatalf("Trailer() = %v, want %v", gotTr, want)
			}
		})
	}
}
