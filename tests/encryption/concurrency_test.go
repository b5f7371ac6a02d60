package encryption_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// hangAfter bounds TestConcurrentRequestsComplete: its requests take well
// under a second when nothing waits on anything it should not.
const hangAfter = 15 * time.Second

// TestConcurrentRequestsComplete sends PUTs, GETs, HEADs and listings from
// 32 concurrent clients of one tenant. Every request needs the tenant's
// key (object bodies, sealed records and names): each must complete. A
// server whose requests wait for one another (a transaction that waits for
// a second connection of the metadata store while holding one, say) hangs
// here; the failure shows where the server's goroutines wait.
func TestConcurrentRequestsComplete(t *testing.T) {
	s := newStack(t, stackOpts{tenants: []string{"t1"}})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	c := s.client["t1"]
	createBucket(t, ctx, c, "busy")
	body := payload(8*kib, 11)
	putObject(t, ctx, c, "busy", "seed", body)

	const clients, each = 32, 16
	rctx, rcancel := context.WithTimeout(ctx, hangAfter)
	defer rcancel()
	var (
		wg   sync.WaitGroup
		done atomic.Int64
		mu   sync.Mutex
		errs []string
	)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				err := oneRequest(rctx, c, (i+j)%4, fmt.Sprintf("k-%02d-%d", i, j), body)
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if rctx.Err() != nil {
		t.Fatalf("%d of %d requests from %d concurrent clients done after %v, want all: the server hangs under concurrency; where its goroutines wait:\n%s",
			done.Load(), clients*each, clients, hangAfter, serverStacks())
	}
	if len(errs) > 0 {
		t.Fatalf("%d of %d concurrent clients failed, want none; first: %s", len(errs), clients, errs[0])
	}
}

// oneRequest sends request kind k: a PUT of key, a GET or a HEAD of the
// seed object, or a listing.
func oneRequest(ctx context.Context, c *s3.Client, k int, key string, body []byte) error {
	switch k {
	case 0:
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("busy"), Key: aws.String(key),
			Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
		return err
	case 1:
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("busy"), Key: aws.String("seed")})
		if err != nil {
			return err
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err == nil && !bytes.Equal(got, body) {
			err = fmt.Errorf("GET seed: %d bytes, want the %d written", len(got), len(body))
		}
		return err
	case 2:
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("busy"), Key: aws.String("seed")})
		return err
	default:
		_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("busy")})
		return err
	}
}

// serverStacks returns the stacks of the goroutines in the vault or the
// metadata store, most common first, without their arguments.
func serverStacks() string {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	count := map[string]int{}
	var order []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "coffre/vault") && !strings.Contains(g, "coffre/meta") {
			continue
		}
		var frames []string
		for _, line := range strings.Split(g, "\n")[1:] {
			if strings.HasPrefix(line, "\t") || !strings.Contains(line, "coffre/") {
				continue
			}
			if i := strings.LastIndexByte(line, '('); i > 0 {
				line = line[:i]
			}
			frames = append(frames, "  "+line)
		}
		st := strings.Join(frames, "\n")
		if count[st] == 0 {
			order = append(order, st)
		}
		count[st]++
	}
	var b strings.Builder
	for _, st := range order {
		fmt.Fprintf(&b, "%d goroutines:\n%s\n", count[st], st)
	}
	return b.String()
}
