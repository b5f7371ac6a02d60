package s3api

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffre-cloud/coffre/vault"
)

// metrics counts requests in the Prometheus text format, without a client
// library: a handful of counters does not justify a dependency.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]*atomic.Int64 // method, status
	bytesIn  atomic.Int64
	bytesOut atomic.Int64
	// latency histogram of all requests, in seconds
	buckets [len(latencyBounds) + 1]atomic.Int64
	sumNano atomic.Int64
}

var latencyBounds = [...]float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30}

func (m *metrics) observe(method string, status int, in, out int64, d time.Duration) {
	key := [2]string{method, strconv.Itoa(status)}
	m.mu.Lock()
	if m.requests == nil {
		m.requests = make(map[[2]string]*atomic.Int64)
	}
	c := m.requests[key]
	if c == nil {
		c = new(atomic.Int64)
		m.requests[key] = c
	}
	m.mu.Unlock()
	c.Add(1)
	m.bytesIn.Add(in)
	m.bytesOut.Add(out)
	s := d.Seconds()
	i := sort.SearchFloat64s(latencyBounds[:], s)
	m.buckets[i].Add(1)
	m.sumNano.Add(int64(d))
}

func (m *metrics) write(w io.Writer) {
	fmt.Fprintln(w, "# HELP coffre_s3_requests_total S3 requests by method and status.")
	fmt.Fprintln(w, "# TYPE coffre_s3_requests_total counter")
	m.mu.Lock()
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	m.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		m.mu.Lock()
		c := m.requests[k]
		m.mu.Unlock()
		fmt.Fprintf(w, "coffre_s3_requests_total{method=%q,status=%q} %d\n", k[0], k[1], c.Load())
	}
	fmt.Fprintln(w, "# HELP coffre_s3_received_bytes_total Request body bytes received.")
	fmt.Fprintln(w, "# TYPE coffre_s3_received_bytes_total counter")
	fmt.Fprintf(w, "coffre_s3_received_bytes_total %d\n", m.bytesIn.Load())
	fmt.Fprintln(w, "# HELP coffre_s3_sent_bytes_total Response body bytes sent.")
	fmt.Fprintln(w, "# TYPE coffre_s3_sent_bytes_total counter")
	fmt.Fprintf(w, "coffre_s3_sent_bytes_total %d\n", m.bytesOut.Load())
	fmt.Fprintln(w, "# HELP coffre_s3_request_duration_seconds S3 request latency.")
	fmt.Fprintln(w, "# TYPE coffre_s3_request_duration_seconds histogram")
	var cum int64
	for i, b := range latencyBounds {
		cum += m.buckets[i].Load()
		fmt.Fprintf(w, "coffre_s3_request_duration_seconds_bucket{le=\"%g\"} %d\n", b, cum)
	}
	cum += m.buckets[len(latencyBounds)].Load()
	fmt.Fprintf(w, "coffre_s3_request_duration_seconds_bucket{le=\"+Inf\"} %d\n", cum)
	fmt.Fprintf(w, "coffre_s3_request_duration_seconds_sum %g\n", time.Duration(m.sumNano.Load()).Seconds())
	fmt.Fprintf(w, "coffre_s3_request_duration_seconds_count %d\n", cum)
}

// statusWriter records the status and size of a response, and fails a
// response that a client stops reading for longer than idle (extending the
// write deadline as bytes go, at most once a second).
type statusWriter struct {
	http.ResponseWriter
	status   int
	n        int64
	rc       *http.ResponseController
	idle     time.Duration
	extended time.Time
}

func (w *statusWriter) extend() {
	if now := time.Now(); now.Sub(w.extended) > time.Second {
		w.extended = now
		w.rc.SetWriteDeadline(now.Add(w.idle))
	}
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.extend()
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom copies a response body, extending the write deadline as it goes
// (deadlineReader), and counts its bytes.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.extend()
	n, err := io.Copy(w.ResponseWriter, deadlineReader{r, w})
	w.n += n
	return n, err
}

// deadlineReader extends the write deadline as a response body is copied.
type deadlineReader struct {
	r io.Reader
	w *statusWriter
}

func (d deadlineReader) Read(p []byte) (int, error) {
	d.w.extend()
	return d.r.Read(p)
}

// WriteTo copies the body to w (io.Copy calls it, with the response as w)
// in writes of up to copyBufSize bytes, which the response passes straight
// to the connection once its buffer is empty. io.Copy's own buffer is 32
// KiB: a system call, and a pass through the TCP stack, for every 32 KiB of
// a large GET.
func (d deadlineReader) WriteTo(w io.Writer) (n int64, err error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	for {
		nr, rerr := d.Read(*bp)
		if nr > 0 {
			nw, werr := w.Write((*bp)[:nr])
			n += int64(nw)
			if werr == nil && nw < nr {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		} else if rerr != nil {
			return n, rerr
		}
	}
}

// copyBufSize is the size of deadlineReader.WriteTo's writes: that of the
// buffers a large GET decrypts into (vault's prefetch), so that each is
// written whole.
const copyBufSize = 256 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// writeUsage writes what each tenant stores on each offer, and its
// requests and egress since the process started.
func writeUsage(w io.Writer, rows []vault.Usage) {
	series := []struct {
		name, kind, help string
		value            func(vault.Usage) int64
		offer            bool // per offer, else per tenant
	}{
		{"coffre_tenant_stored_bytes", "gauge", "Plaintext bytes a tenant stores on an offer.", func(u vault.Usage) int64 { return u.Bytes }, true},
		{"coffre_tenant_stored_blobs", "gauge", "Blobs (backend objects) a tenant stores on an offer.", func(u vault.Usage) int64 { return u.Blobs }, true},
		{"coffre_tenant_requests_total", "counter", "S3 requests of a tenant on buckets of an offer.", func(u vault.Usage) int64 { return u.Requests }, true},
		{"coffre_tenant_egress_bytes_total", "counter", "Object bytes a tenant read from an offer.", func(u vault.Usage) int64 { return u.Egress }, true},
		{"coffre_tenant_objects", "gauge", "Object versions a tenant stores.", func(u vault.Usage) int64 { return u.Objects }, false},
		{"coffre_tenant_inline_bytes", "gauge", "Plaintext bytes of a tenant's small objects kept in the metadata store.", func(u vault.Usage) int64 { return u.Bytes }, false},
		{"coffre_tenant_quota_bytes", "gauge", "A tenant's quota of bytes (0: none).", func(u vault.Usage) int64 { return u.QuotaBytes }, false},
		{"coffre_tenant_quota_objects", "gauge", "A tenant's quota of objects (0: none).", func(u vault.Usage) int64 { return u.QuotaObjects }, false},
	}
	for _, m := range series {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.kind)
		for _, u := range rows {
			switch {
			case m.offer && u.Offer != "":
				fmt.Fprintf(w, "%s{tenant=%q,offer=%q} %d\n", m.name, u.Tenant, u.Offer, m.value(u))
			case !m.offer && u.Offer == "":
				fmt.Fprintf(w, "%s{tenant=%q} %d\n", m.name, u.Tenant, m.value(u))
			}
		}
	}
}
