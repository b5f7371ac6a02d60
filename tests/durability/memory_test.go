package durability_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffre-cloud/coffre/internal/testenv"
)

// rssSampler records the peak resident set size of a process, sampled every
// interval, for each phase of a test.
type rssSampler struct {
	pid     int
	mu      sync.Mutex
	phase   string
	peaks   map[string]int64
	samples int
	err     error
}

func (s *rssSampler) sample() {
	n, err := rss(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	s.samples++
	if n > s.peaks[s.phase] {
		s.peaks[s.phase] = n
	}
}

// setPhase takes a sample for the ending phase and starts the next one.
func (s *rssSampler) setPhase(p string) {
	s.sample()
	s.mu.Lock()
	s.phase = p
	s.mu.Unlock()
	s.sample()
}

func (s *rssSampler) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sample()
		}
	}
}

// TestMemoryFlat streams a 2 GiB object in and out of a real server and
// checks that the server's memory does not grow with the object: bodies
// must stream, never be buffered whole.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 2 GiB through a real server (runs without -short)")
	}
	const (
		size   = 2 << 30
		limit  = 100 * mib // growth of the peak RSS over the idle server's
		seed   = 0x2c1b
		bucket = "memory"
	)
	srv := testenv.StartCoffre(t, testenv.Opts{})
	pid := serverPID(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := newClient(srv)
	createBucket(t, ctx, c, bucket)

	// Warm up both paths with a small object, so that the baseline is a
	// server in its steady state (connections, buffer pools, SQLite cache)
	// rather than a fresh one.
	const warm = 8 * mib
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("warm"), Body: newStream(1, 0, warm), ContentLength: aws.Int64(warm)}); err != nil {
		t.Fatalf("PutObject warm: %v", err)
	}
	if _, err := readObject(ctx, c, bucket, "warm"); err != nil {
		t.Fatalf("GET warm: %v", err)
	}
	want := sumOf(seed, size)

	s := &rssSampler{pid: pid, phase: "idle", peaks: make(map[string]int64)}
	s.sample()
	base := s.peaks["idle"]
	// The kernel's own peak (VmHWM) sees what 100 ms sampling may miss.
	if err := resetPeakRSS(pid); err != nil {
		t.Fatalf("resetting the peak RSS of process %d: %v", pid, err)
	}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.run(sctx, 100*time.Millisecond) })
	defer func() { stop(); wg.Wait() }()

	s.setPhase("put")
	start := time.Now()
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String("big"),
		Body:          newStream(seed, 0, size),
		ContentLength: aws.Int64(size),
	})
	if err != nil {
		t.Fatalf("PutObject of %d bytes: %v", size, err)
	}
	putTime := time.Since(start)

	s.setPhase("get")
	start = time.Now()
	got, err := readObject(ctx, c, bucket, "big")
	if err != nil {
		t.Fatalf("GET of the %d-byte object: %v", size, err)
	}
	getTime := time.Since(start)
	s.setPhase("done")
	stop()
	wg.Wait()

	if s.err != nil {
		t.Fatalf("sampling the RSS of process %d: %v", pid, s.err)
	}
	hwm, err := procStatus(pid, "VmHWM")
	if err != nil {
		t.Fatalf("reading the peak RSS of process %d: %v", pid, err)
	}
	if got == nil || got.sum != want {
		t.Errorf("GET of the 2 GiB object returned different bytes than were written")
	}
	mb := func(n int64) float64 { return float64(n) / mib }
	t.Logf("server (pid %d) RSS: %.1f MiB idle; peak %.1f MiB during PUT (%.1f s, %.0f MB/s), %.1f MiB during GET (%.1f s, %.0f MB/s); %d samples; kernel peak (VmHWM) %.1f MiB",
		pid, mb(base), mb(s.peaks["put"]), putTime.Seconds(), size/putTime.Seconds()/1e6,
		mb(s.peaks["get"]), getTime.Seconds(), size/getTime.Seconds()/1e6, s.samples, mb(hwm))
	for _, p := range []struct {
		what string
		peak int64
	}{
		{"during the 2 GiB PUT (sampled every 100 ms)", s.peaks["put"]},
		{"during the 2 GiB GET (sampled every 100 ms)", s.peaks["get"]},
		{"at its peak (VmHWM) over the PUT and the GET", hwm},
	} {
		if growth := p.peak - base; growth >= limit {
			t.Errorf("server RSS grew by %.1f MiB %s (%.1f MiB idle, %.1f MiB peak), want less than %.0f MiB: a body is buffered, not streamed",
				mb(growth), p.what, mb(base), mb(p.peak), mb(limit))
		}
	}
}
