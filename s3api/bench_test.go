package s3api_test

// End-to-end benchmarks: an aws-sdk-go-v2 client and the S3 server in one
// process, over loopback HTTP, on real stores (SQLite metadata, fs blobs) in
// a temporary directory, so that every layer a request crosses is measured:
// the SDK's signing and checksums, net/http, SigV4 verification, the vault,
// the metadata commit and the blob's fsync. The BenchmarkBackend* figures
// come from the same fs backend alone, so that one run gives the ratio of
// the whole request to its storage.
//
// The client and the server share the machine's cores, as they do in the
// figures of DESIGN.md ("Performance facts").

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/backendtest"
	"github.com/coffre-cloud/coffre/backend/fs"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/meta/sqlite"
	"github.com/coffre-cloud/coffre/s3api"
	"github.com/coffre-cloud/coffre/vault"
)

var benchSizes = []struct {
	name string
	size int
}{
	{"1MiB", 1 << 20},
	{"64MiB", 64 << 20},
}

const smallSize = 4 << 10

// checksumModes are the two ways the SDK sends a PUT: by default it computes
// a CRC32 of the body (x-amz-checksum-crc32) that the server verifies; with
// WhenRequired it only computes the payload's SHA-256 for the signature.
var checksumModes = []struct {
	name string
	opt  func(*s3.Options)
}{
	{"default", func(*s3.Options) {}},
	{"whenRequired", func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired }},
}

// benchParallelism makes RunParallel use 4 goroutines per core: enough
// concurrent requests for the server's group commits to batch.
const benchParallelism = 4

type benchServer struct {
	c      *s3.Client
	bucket string
}

// newBenchServer starts an S3 server over fresh SQLite and fs stores, with a
// tenant, an access key and a bucket, and returns an SDK client for it.
func newBenchServer(b *testing.B, opts ...func(*s3.Options)) *benchServer {
	return newBenchServerInline(b, 0, opts...)
}

// inlineModes are the two ways a small object is kept: as a blob file on
// the offer, or inline in the metadata store (coffre serve's default).
var inlineModes = []struct {
	name string
	max  int64
}{
	{"blob", 0},
	{"inline", vault.DefaultInlineMax},
}

// newBenchServerInline is newBenchServer keeping objects of up to
// inlineMax bytes in the metadata store.
func newBenchServerInline(b *testing.B, inlineMax int64, opts ...func(*s3.Options)) *benchServer {
	b.Helper()
	dir := b.TempDir()
	m, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		b.Fatalf("sqlite.Open: %v", err)
	}
	b.Cleanup(func() { m.Close() })
	st, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatalf("fs.Open: %v", err)
	}
	b.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.DiscardHandler)
	v := vault.New(vault.Config{Meta: m, Backend: st, Keys: testenv.Keyring(b), Logger: quiet, InlineMax: inlineMax})
	ctx := context.Background()
	if _, err := v.CreateTenant(ctx, "bench"); err != nil {
		b.Fatalf("CreateTenant: %v", err)
	}
	k, err := v.CreateAccessKey(ctx, "bench")
	if err != nil {
		b.Fatalf("CreateAccessKey: %v", err)
	}
	srv := httptest.NewServer(s3api.New(s3api.Config{Vault: v, Logger: quiet}))
	b.Cleanup(srv.Close) // registered last, so it runs before the stores close
	c := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(k.ID, k.Secret, ""),
		Retryer:      aws.NopRetryer{},
	}, opts...)
	s := &benchServer{c: c, bucket: "bench"}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		b.Fatalf("CreateBucket: %v", err)
	}
	return s
}

func (s *benchServer) put(ctx context.Context, key string, data []byte) error {
	_, err := s.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	})
	return err
}

// get reads an object to its end through Read with a 256 KiB buffer, as an
// application consuming the bytes does.
func (s *benchServer) get(ctx context.Context, key string, buf []byte) (int64, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	return drain(out.Body, buf)
}

func drain(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func content(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0] = byte(seed)
	rand.NewChaCha8(s).Read(b)
	return b
}

func reportOps(b *testing.B) {
	if sec := b.Elapsed().Seconds(); sec > 0 {
		b.ReportMetric(float64(b.N)/sec, "ops/s")
	}
}

// BenchmarkPut measures sequential PutObject of 1 MiB and 64 MiB, with the
// SDK's default request checksum (CRC32) and without (whenRequired).
func BenchmarkPut(b *testing.B) {
	for _, cm := range checksumModes {
		for _, bs := range benchSizes {
			b.Run("checksum="+cm.name+"/size="+bs.name, func(b *testing.B) {
				s := newBenchServer(b, cm.opt)
				data := content(1, bs.size)
				b.SetBytes(int64(bs.size))
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					if err := s.put(b.Context(), fmt.Sprintf("put-%d", i), data); err != nil {
						b.Fatalf("PutObject: %v", err)
					}
				}
				b.StopTimer()
				reportOps(b)
			})
		}
	}
}

// BenchmarkGet measures sequential whole-object GetObject of 1 MiB and
// 64 MiB.
func BenchmarkGet(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run("size="+bs.name, func(b *testing.B) {
			s := newBenchServer(b)
			const objects = 4
			for i := range objects {
				if err := s.put(b.Context(), fmt.Sprintf("get-%d", i), content(uint64(i), bs.size)); err != nil {
					b.Fatalf("PutObject: %v", err)
				}
			}
			buf := make([]byte, 256<<10)
			b.SetBytes(int64(bs.size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				n, err := s.get(b.Context(), fmt.Sprintf("get-%d", i%objects), buf)
				if err != nil || n != int64(bs.size) {
					b.Fatalf("GetObject = %d bytes, %v; want %d bytes", n, err, bs.size)
				}
			}
			b.StopTimer()
			reportOps(b)
		})
	}
}

// BenchmarkPutSmall measures sequential 4 KiB PutObject: the per-request
// cost (signature, metadata commit, fsyncs).
func BenchmarkPutSmall(b *testing.B) {
	for _, cm := range checksumModes {
		for _, im := range inlineModes {
			b.Run("checksum="+cm.name+"/keep="+im.name, func(b *testing.B) {
				s := newBenchServerInline(b, im.max, cm.opt)
				data := content(1, smallSize)
				b.SetBytes(smallSize)
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					if err := s.put(b.Context(), fmt.Sprintf("small-%d", i), data); err != nil {
						b.Fatalf("PutObject: %v", err)
					}
				}
				b.StopTimer()
				reportOps(b)
			})
		}
	}
}

// BenchmarkPutSmallParallel measures 4 KiB PutObject from 4 goroutines per
// core: what group commit of the metadata and of directory fsyncs is for.
func BenchmarkPutSmallParallel(b *testing.B) {
	for _, cm := range checksumModes {
		for _, im := range inlineModes {
			b.Run("checksum="+cm.name+"/keep="+im.name, func(b *testing.B) {
				s := newBenchServerInline(b, im.max, cm.opt)
				data := content(1, smallSize)
				var next atomic.Int64
				b.SetBytes(smallSize)
				b.ReportAllocs()
				b.SetParallelism(benchParallelism)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := s.put(b.Context(), fmt.Sprintf("small-%d", next.Add(1)), data); err != nil {
							b.Errorf("PutObject: %v", err)
							return
						}
					}
				})
				b.StopTimer()
				reportOps(b)
			})
		}
	}
}

const smallObjects = 64

func newSmallGetServer(b *testing.B) *benchServer {
	// As coffre serve keeps them: inline.
	s := newBenchServerInline(b, vault.DefaultInlineMax)
	for i := range smallObjects {
		if err := s.put(b.Context(), fmt.Sprintf("small-%d", i), content(uint64(i), smallSize)); err != nil {
			b.Fatalf("PutObject: %v", err)
		}
	}
	return s
}

// BenchmarkGetSmall measures sequential 4 KiB GetObject.
func BenchmarkGetSmall(b *testing.B) {
	s := newSmallGetServer(b)
	buf := make([]byte, 256<<10)
	b.SetBytes(smallSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if n, err := s.get(b.Context(), fmt.Sprintf("small-%d", i%smallObjects), buf); err != nil || n != smallSize {
			b.Fatalf("GetObject = %d bytes, %v; want %d bytes", n, err, smallSize)
		}
	}
	b.StopTimer()
	reportOps(b)
}

// BenchmarkGetSmallParallel measures 4 KiB GetObject from 4 goroutines per
// core.
func BenchmarkGetSmallParallel(b *testing.B) {
	s := newSmallGetServer(b)
	var next atomic.Int64
	b.SetBytes(smallSize)
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 256<<10)
		for pb.Next() {
			key := fmt.Sprintf("small-%d", next.Add(1)%smallObjects)
			if n, err := s.get(b.Context(), key, buf); err != nil || n != smallSize {
				b.Errorf("GetObject = %d bytes, %v; want %d bytes", n, err, smallSize)
				return
			}
		}
	})
	b.StopTimer()
	reportOps(b)
}

// fsBackend is the fs backend on its own, as the server above uses it.
func fsBackend() backendtest.Opts {
	return backendtest.Opts{New: func(tb testing.TB) backend.Store {
		st, err := fs.Open(tb.TempDir())
		if err != nil {
			tb.Fatalf("fs.Open: %v", err)
		}
		tb.Cleanup(func() { st.Close() })
		return st
	}}
}

// BenchmarkBackendPut measures the fs backend's Put of 4 KiB, 1 MiB and
// 64 MiB: the floor under BenchmarkPutSmall and BenchmarkPut.
func BenchmarkBackendPut(b *testing.B) { backendtest.BenchPut(b, fsBackend()) }

// BenchmarkBackendGet measures the fs backend's Get of 4 KiB, 1 MiB and
// 64 MiB: the floor under BenchmarkGetSmall and BenchmarkGet.
func BenchmarkBackendGet(b *testing.B) { backendtest.BenchGet(b, fsBackend()) }

// BenchmarkBackendPutConcurrent measures the fs backend's 4 KiB Puts from
// 1, 4 and 16 goroutines: the floor under BenchmarkPutSmallParallel.
func BenchmarkBackendPutConcurrent(b *testing.B) { backendtest.BenchPutConcurrent(b, fsBackend()) }

// BenchmarkList measures ListObjectsV2 over a bucket of listKeys small
// objects, 1,000 keys a page: keys listed per second.
func BenchmarkList(b *testing.B) {
	const listKeys = 20000
	s := newBenchServerInline(b, vault.DefaultInlineMax)
	ctx := b.Context()
	var next atomic.Int64
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for {
				i := next.Add(1)
				if i > listKeys {
					errs <- nil
					return
				}
				if err := s.put(ctx, fmt.Sprintf("dir-%02d/object-%06d", i%50, i), []byte("x")); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			b.Fatalf("PutObject: %v", err)
		}
	}
	b.ResetTimer()
	for range b.N {
		p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket)})
		n := 0
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				b.Fatalf("ListObjectsV2: %v", err)
			}
			n += len(out.Contents)
		}
		if n != listKeys {
			b.Fatalf("listed %d keys, want %d", n, listKeys)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(listKeys*b.N)/b.Elapsed().Seconds(), "keys/s")
}
