package vault_test

// End-to-end cost of encryption: PUT and GET of 64 MiB objects through the
// whole stack (an aws-sdk-go-v2 client, loopback HTTP, s3api, the vault,
// SQLite metadata and the fs backend with its fsyncs) with the real payload
// stream (cipher=aes-gcm) and with a null cipher of the same layout
// (cipher=null, vault.UseNullCipher). Compare the pairs with benchstat, or
// read the ratio of their MB/s:
//
//	go test ./vault -run '^$' -bench EndToEnd -benchtime 10x -count 6

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffre-cloud/coffre/backend/fs"
	"github.com/coffre-cloud/coffre/crypt"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/meta/sqlite"
	"github.com/coffre-cloud/coffre/s3api"
	"github.com/coffre-cloud/coffre/vault"
)

const e2eSize = 64 << 20

var e2eCiphers = []struct {
	name string
	use  func(testing.TB)
}{
	{"aes-gcm", func(testing.TB) {}},
	{"null", vault.UseNullCipher},
}

// e2eServer is a whole site in the process and an SDK client for it.
type e2eServer struct {
	c      *s3.Client
	v      *vault.Vault
	blobs  string // the fs backend's root
	bucket string
}

// newE2EServer starts a site; inlineMax is its vault.Config.InlineMax.
func newE2EServer(tb testing.TB, inlineMax int64) *e2eServer {
	tb.Helper()
	dir := tb.TempDir()
	m, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		tb.Fatalf("sqlite.Open: %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	blobs := filepath.Join(dir, "blobs")
	st, err := fs.Open(blobs)
	if err != nil {
		tb.Fatalf("fs.Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.DiscardHandler)
	v := vault.New(vault.Config{Meta: m, Backend: st, Keys: testenv.Keyring(tb), Logger: quiet, InlineMax: inlineMax})
	ctx := context.Background()
	if _, err := v.CreateTenant(ctx, "bench"); err != nil {
		tb.Fatalf("CreateTenant: %v", err)
	}
	k, err := v.CreateAccessKey(ctx, "bench")
	if err != nil {
		tb.Fatalf("CreateAccessKey: %v", err)
	}
	srv := httptest.NewServer(s3api.New(s3api.Config{Vault: v, Logger: quiet}))
	tb.Cleanup(srv.Close) // registered last: runs before the stores close
	s := &e2eServer{
		c: s3.New(s3.Options{
			Region:                     "us-east-1",
			BaseEndpoint:               aws.String(srv.URL),
			UsePathStyle:               true,
			Credentials:                credentials.NewStaticCredentialsProvider(k.ID, k.Secret, ""),
			Retryer:                    aws.NopRetryer{},
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		}),
		v: v, blobs: blobs, bucket: "bench",
	}
	if _, err := s.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		tb.Fatalf("CreateBucket: %v", err)
	}
	return s
}

func (s *e2eServer) put(ctx context.Context, key string, data []byte) error {
	_, err := s.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	})
	return err
}

// get reads bytes [off, off+n) of an object (all of it when n < 0) into
// buf-sized reads and returns them when keep, else only their count.
func (s *e2eServer) get(ctx context.Context, key string, off, n int64, buf []byte, keep bool) ([]byte, int64, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	if n >= 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	}
	out, err := s.c.GetObject(ctx, in)
	if err != nil {
		return nil, 0, err
	}
	defer out.Body.Close()
	var got []byte
	var total int64
	for {
		m, err := out.Body.Read(buf)
		total += int64(m)
		if keep {
			got = append(got, buf[:m]...)
		}
		if err == io.EOF {
			return got, total, nil
		}
		if err != nil {
			return got, total, err
		}
	}
}

func e2eContent(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0] = byte(seed)
	rand.NewChaCha8(s).Read(b)
	return b
}

// BenchmarkEndToEnd measures sequential PutObject and whole-object
// GetObject of 64 MiB with the real payload stream and with the null
// cipher. The MB/s of cipher=null over those of cipher=aes-gcm is the
// slowdown encryption costs end to end.
func BenchmarkEndToEnd(b *testing.B) {
	data := e2eContent(1, e2eSize)
	for _, op := range []string{"put", "get"} {
		for _, ci := range e2eCiphers {
			b.Run(fmt.Sprintf("op=%s/cipher=%s/size=64MiB", op, ci.name), func(b *testing.B) {
				ci.use(b)
				s := newE2EServer(b, 0)
				ctx := b.Context()
				buf := make([]byte, 256<<10)
				if op == "get" {
					if err := s.put(ctx, "obj", data); err != nil {
						b.Fatalf("PutObject: %v", err)
					}
				}
				b.SetBytes(e2eSize)
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					switch op {
					case "put":
						if err := s.put(ctx, fmt.Sprintf("obj-%d", i%4), data); err != nil {
							b.Fatalf("PutObject: %v", err)
						}
					case "get":
						if _, n, err := s.get(ctx, "obj", 0, -1, buf, false); err != nil || n != e2eSize {
							b.Fatalf("GetObject: %d bytes, %v; want %d", n, err, e2eSize)
						}
					}
				}
			})
		}
	}
}

// BenchmarkSmallPut measures 4 KiB PutObjects from 8 concurrent clients
// (4 per GOMAXPROCS; run it with -cpu 2), through the SDK and the S3 API,
// with objects inline as coffre serve keeps them: what the metadata
// store's group commit and the committer's work per PUT allow. Each PUT
// is durable (fsynced) when it returns.
func BenchmarkSmallPut(b *testing.B) {
	s := newE2EServer(b, vault.DefaultInlineMax)
	data := e2eContent(2, 4<<10)
	var n atomic.Int64
	b.SetBytes(int64(len(data)))
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if err := s.put(ctx, fmt.Sprintf("small/%09d", n.Add(1)), data); err != nil {
				b.Errorf("PutObject: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

// TestNullCipher checks what BenchmarkEndToEnd compares against: with
// vault.UseNullCipher, objects around the chunk boundaries read back whole
// and by ranges, their blobs have crypt's sizes and hold the plaintext (the
// null cipher is in use), and once the test is over blobs are ciphertext
// again.
func TestNullCipher(t *testing.T) {
	marker := []byte("null-cipher-marker-0123456789")
	sizes := []int{0, 1, crypt.ChunkSize - 1, crypt.ChunkSize, crypt.ChunkSize + 1, 3*crypt.ChunkSize + 7}
	s := newE2EServer(t, 0)
	t.Run("cipher=null", func(t *testing.T) {
		vault.UseNullCipher(t)
		ctx := t.Context()
		buf := make([]byte, 10000) // not a divisor of the chunk size
		for _, n := range sizes {
			data := e2eContent(uint64(n), n)
			if n >= len(marker) {
				copy(data[n-len(marker):], marker)
			}
			key := fmt.Sprintf("obj-%d", n)
			if err := s.put(ctx, key, data); err != nil {
				t.Fatalf("PutObject(%d bytes): %v", n, err)
			}
			got, _, err := s.get(ctx, key, 0, -1, buf, true)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("GetObject(%d bytes) = %d bytes, %v; want the %d bytes written", n, len(got), err, n)
			}
			for _, r := range [][2]int{{0, 1}, {n / 2, n - n/2}, {n - 1, 1}, {crypt.ChunkSize - 3, 6}} {
				off, length := r[0], r[1]
				if n == 0 || off < 0 || off+length > n {
					continue
				}
				got, _, err := s.get(ctx, key, int64(off), int64(length), buf, true)
				if err != nil || !bytes.Equal(got, data[off:off+length]) {
					t.Fatalf("GetObject(%d bytes, range %d+%d) = %d bytes, %v; want the bytes written", n, off, length, len(got), err)
				}
			}
		}
		sizesOf, clear := blobsOf(t, s.blobs, marker)
		if !clear {
			t.Fatalf("no blob holds the marker in clear: the null cipher is not in use")
		}
		for _, n := range sizes {
			if !sizesOf[crypt.CiphertextSize(int64(n))] {
				t.Errorf("no blob of %d bytes (crypt.CiphertextSize(%d)); blob sizes %v", crypt.CiphertextSize(int64(n)), n, sizesOf)
			}
		}
	})
	// The cleanup of the subtest restored the real stream.
	after := []byte("written-after-the-null-cipher-test")
	if err := s.put(t.Context(), "after", append(e2eContent(7, 100), after...)); err != nil {
		t.Fatalf("PutObject after the null cipher: %v", err)
	}
	if _, clear := blobsOf(t, s.blobs, after); clear {
		t.Fatalf("a blob written after UseNullCipher's test ended holds the plaintext")
	}
}

// blobsOf returns the sizes of the blob files under root and whether one
// of them contains marker.
func blobsOf(t *testing.T, root string, marker []byte) (map[int64]bool, bool) {
	t.Helper()
	sizes := map[int64]bool{}
	found := false
	err := filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() || !strings.HasSuffix(path, "+") {
			return err
		}
		sizes[fi.Size()] = true
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, marker) {
			found = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sizes, found
}
