package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// nullCmd is an S3 endpoint that stores nothing: a PUT reads the body and
// throws it away, a GET sends the deterministic stream of the key (the bytes
// the load generator wrote) from memory. It answers just what the large and
// multipart scenarios of the s3 command use, on loopback, without checking
// signatures.
//
// It measures the ceiling of one stream on this machine: what the load
// generator, net/http and loopback TCP reach when the server does no storage
// work at all. A server that stores, hashes or decrypts cannot beat it, so
// the report compares the raw-disk target with it: when the ceiling itself
// is under 0.7 × raw, no S3 server can meet that target here.
type nullCmd struct {
	stdout, stderr io.Writer
}

func (c *nullCmd) Run(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("null", flag.ContinueOnError)
	fl.SetOutput(c.stderr)
	addr := fl.String("addr", "127.0.0.1:0", "address to listen on (loopback)")
	withMD5 := fl.Bool("md5", false, "hash every PUT body with MD5, as an S3 server must for the ETag")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fl.Arg(0))
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("%w: -addr: %v", errUsage, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: -addr %s: the null server listens on a loopback address only", errUsage, *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "null S3 endpoint on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: newNullServer(*withMD5), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// nullServer remembers only the size of each object: its bytes are the
// stream of its key.
type nullServer struct {
	md5   bool
	mu    sync.Mutex
	sizes map[string]int64         // object path -> size
	parts map[string]map[int]int64 // upload ID -> part number -> size
	next  int
}

func newNullServer(withMD5 bool) *nullServer {
	return &nullServer{md5: withMD5, sizes: make(map[string]int64), parts: make(map[string]map[int]int64)}
}

const nullETag = `"00000000000000000000000000000000"`

func (s *nullServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	switch {
	case bucket == "":
		http.Error(w, "no bucket", http.StatusBadRequest)
	case key == "": // CreateBucket, HeadBucket
		io.Copy(io.Discard, r.Body)
	case r.Method == http.MethodPut:
		n, etag, err := s.discard(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		if id := q.Get("uploadId"); id != "" {
			part, _ := strconv.Atoi(q.Get("partNumber"))
			if s.parts[id] == nil {
				s.mu.Unlock()
				http.Error(w, "no such upload", http.StatusNotFound)
				return
			}
			s.parts[id][part] = n
		} else {
			s.sizes[path] = n
		}
		s.mu.Unlock()
		w.Header().Set("ETag", etag)
	case r.Method == http.MethodPost && q.Has("uploads"):
		s.mu.Lock()
		s.next++
		id := strconv.Itoa(s.next)
		s.parts[id] = make(map[int]int64)
		s.mu.Unlock()
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>`, bucket, key, id)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		io.Copy(io.Discard, r.Body)
		id := q.Get("uploadId")
		s.mu.Lock()
		var size int64
		for _, n := range s.parts[id] {
			size += n
		}
		s.sizes[path] = size
		delete(s.parts, id)
		s.mu.Unlock()
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><ETag>%s</ETag></CompleteMultipartUploadResult>`, bucket, key, nullETag)
	case r.Method == http.MethodDelete:
		s.mu.Lock()
		delete(s.parts, q.Get("uploadId"))
		delete(s.sizes, path)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		s.mu.Lock()
		size, ok := s.sizes[path]
		s.mu.Unlock()
		if !ok {
			http.Error(w, "no such key", http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		h.Set("Content-Type", "application/octet-stream")
		h.Set("ETag", nullETag)
		if r.Method == http.MethodHead {
			return
		}
		buf := make([]byte, 1<<20)
		io.CopyBuffer(w, newStream(seedOf(key), 0, size), buf)
	default:
		http.Error(w, "not supported by the null server", http.StatusNotImplemented)
	}
}

// discard reads a body to its end, hashing it when asked.
func (s *nullServer) discard(body io.Reader) (int64, string, error) {
	var h hash.Hash
	dst := io.Discard
	if s.md5 {
		h = md5.New()
		dst = h
	}
	n, err := io.CopyBuffer(dst, body, make([]byte, 1<<20))
	if err != nil || h == nil {
		return n, nullETag, err
	}
	return n, `"` + hex.EncodeToString(h.Sum(nil)) + `"`, nil
}
