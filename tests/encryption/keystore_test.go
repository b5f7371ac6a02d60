package encryption_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffre-cloud/coffre/keys"
)

// countingStore is a key store that counts the operations the vault asks
// of it, and can hold them until released.
type countingStore struct {
	keys.Store
	wraps, unwraps atomic.Int64

	// holdWrap and holdUnwrap, when not nil, make Wrap and Unwrap announce
	// themselves on entered, then wait for the channel to close (or their
	// context to end) before doing their work.
	holdWrap, holdUnwrap chan struct{}
	entered              chan string
}

func (s *countingStore) wait(ctx context.Context, op string, hold chan struct{}) error {
	if hold == nil {
		return nil
	}
	select {
	case s.entered <- op:
	default:
	}
	select {
	case <-hold:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", keys.ErrUnavailable, ctx.Err())
	}
}

func (s *countingStore) Wrap(ctx context.Context, secret, ad []byte) ([]byte, error) {
	s.wraps.Add(1)
	if err := s.wait(ctx, "wrap", s.holdWrap); err != nil {
		return nil, err
	}
	return s.Store.Wrap(ctx, secret, ad)
}

func (s *countingStore) Unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error) {
	s.unwraps.Add(1)
	if err := s.wait(ctx, "unwrap", s.holdUnwrap); err != nil {
		return nil, err
	}
	return s.Store.Unwrap(ctx, wrapped, ad)
}

// putManyTimeout bounds one putMany: 1,000 small PUTs take a few seconds;
// a hang fails the test.
const putManyTimeout = 20 * time.Second

// putMany writes n objects of size bytes, spread over the tenants' buckets
// (bucket "b-TENANT"), from workers concurrent clients.
func putMany(t *testing.T, ctx context.Context, s *stack, tenants []string, round, n, size, workers int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, putManyTimeout)
	defer cancel()
	body := payload(size, uint64(round))
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				tn := tenants[i%len(tenants)]
				if err := putBytes(ctx, s.client[tn], "b-"+tn, fmt.Sprintf("r%d-%05d", round, i), body); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func putBytes(ctx context.Context, c *s3.Client, bucket, key string, body []byte) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		return fmt.Errorf("PutObject(%s/%s): %w", bucket, key, err)
	}
	return nil
}

// TestKeyStoreOpsPer1000Puts counts the key store operations of 1,000
// PUTs of 4 KiB over 3 tenants (each tenant's first alone, the rest from 8
// concurrent clients): the key store must be off the per-object path, with
// a wrap per tenant for its first key and nothing more while the tenant
// keys stay cached. Once the cache has expired, the next 1,000 PUTs cost
// one unwrap per tenant. (Concurrent first uses of a key are
// TestKeyStoreUnwrapsOncePerTenantUnderLoad's subject.)
func TestKeyStoreOpsPer1000Puts(t *testing.T) {
	var skew atomic.Int64 // added to the vault's clock
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	var ks *countingStore
	tenants := []string{"t1", "t2", "t3"}
	s := newStack(t, stackOpts{
		tenants:  tenants,
		wrapKeys: func(k keys.Store) keys.Store { ks = &countingStore{Store: k}; return ks },
		now:      now,
	})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	for _, tn := range tenants {
		createBucket(t, ctx, s.client[tn], "b-"+tn)
	}

	const puts, size, workers = 1000, 4 * kib, 8
	round := func(r int) {
		t.Helper()
		putMany(t, ctx, s, tenants, r, len(tenants), size, 1)
		putMany(t, ctx, s, tenants, r+100, puts-len(tenants), size, workers)
	}
	round(1)
	wraps, unwraps, kekUnwraps := ks.wraps.Load(), ks.unwraps.Load(), s.vault.KEKUnwraps()
	t.Logf("first %d PUTs (cold): %d wraps, %d unwraps (vault.KEKUnwraps %d)", puts, wraps, unwraps, kekUnwraps)
	if wraps != int64(len(tenants)) {
		t.Errorf("first %d PUTs over %d new tenants: %d key store wraps, want %d (one new key per tenant)", puts, len(tenants), wraps, len(tenants))
	}
	if unwraps != kekUnwraps {
		t.Errorf("key store unwraps = %d, vault.KEKUnwraps() = %d, want them equal", unwraps, kekUnwraps)
	}
	if unwraps != 0 {
		t.Errorf("first %d PUTs: %d key store unwraps, want 0: a key the vault just made is in its cache", puts, unwraps)
	}

	round(2)
	if w, u := ks.wraps.Load()-wraps, ks.unwraps.Load()-unwraps; w != 0 || u != 0 {
		t.Errorf("next %d PUTs (warm cache): %d wraps and %d unwraps, want none", puts, w, u)
	}

	skew.Store(int64(6 * time.Minute)) // past the 5-minute cache
	wraps, unwraps = ks.wraps.Load(), ks.unwraps.Load()
	round(3)
	w, u := ks.wraps.Load()-wraps, ks.unwraps.Load()-unwraps
	t.Logf("%d PUTs after the cache expired: %d wraps, %d unwraps", puts, w, u)
	if w != 0 || u != int64(len(tenants)) {
		t.Errorf("%d PUTs after the cache expired: %d wraps and %d unwraps, want 0 and %d (one unwrap per tenant)", puts, w, u, len(tenants))
	}
	if got, want := s.vault.KEKUnwraps(), ks.unwraps.Load(); got != want {
		t.Errorf("vault.KEKUnwraps() = %d, want %d (the key store's count)", got, want)
	}
}

// TestSlowKeyStoreDoesNotStallOtherTenants holds the key store's Wrap for
// a tenant's key rotation (an HSM that is slow, or hangs until its timeout)
// and meanwhile writes as another tenant, whose key is cached and needs no
// key store call: that write must not wait for the first.
func TestSlowKeyStoreDoesNotStallOtherTenants(t *testing.T) {
	var ks *countingStore
	s := newStack(t, stackOpts{
		tenants:  []string{"warm", "cold"},
		wrapKeys: func(k keys.Store) keys.Store { ks = &countingStore{Store: k}; return ks },
	})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	// Both tenants' keys were made with their access keys (a secret is
	// sealed under its tenant's key): writes need no Wrap.
	base := ks.wraps.Load()
	createBucket(t, ctx, s.client["warm"], "b-warm")
	body := payload(4*kib, 9)
	if err := putBytes(ctx, s.client["warm"], "b-warm", "first", body); err != nil {
		t.Fatal(err)
	}
	if got := ks.wraps.Load() - base; got != 0 {
		t.Fatalf("%d key store wraps for a tenant's first writes, want 0 (its key exists)", got)
	}

	ks.holdWrap, ks.entered = make(chan struct{}), make(chan string, 1)
	released := false
	release := func() {
		if !released {
			released = true
			close(ks.holdWrap)
		}
	}
	defer release()
	// A rotation of the cold tenant's key calls Wrap, which is held.
	cold := make(chan error, 1)
	go func() {
		_, err := s.vault.RotateTenantKey(ctx, "cold")
		cold <- err
	}()
	select {
	case <-ks.entered:
	case err := <-cold:
		t.Fatalf("the cold tenant's key rotation returned (%v) without calling Wrap", err)
	case <-ctx.Done():
		t.Fatal("the cold tenant's key rotation never called Wrap")
	}

	const patience = 3 * time.Second
	wctx, wcancel := context.WithTimeout(ctx, patience)
	start := time.Now()
	err := putBytes(wctx, s.client["warm"], "b-warm", "second", body)
	wcancel()
	if err != nil {
		t.Errorf("a PUT of tenant warm (key cached) while the key store held tenant cold's Wrap: %v after %v; want it done at once: no metadata write may wait on a key store call",
			err, time.Since(start).Round(time.Millisecond))
	}
	release()
	if err := <-cold; err != nil {
		t.Fatalf("the cold tenant's key rotation after the key store answered: %v", err)
	}
}

// TestKeyStoreUnwrapsOncePerTenantUnderLoad lets a tenant's cached key
// expire, then sends 16 concurrent PUTs as that tenant while the key
// store's Unwrap is held (an HSM answering slowly): the key must be
// unwrapped once for all of them, not once per request that missed the
// cache meanwhile.
func TestKeyStoreUnwrapsOncePerTenantUnderLoad(t *testing.T) {
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	var ks *countingStore
	s := newStack(t, stackOpts{
		tenants:  []string{"t1"},
		wrapKeys: func(k keys.Store) keys.Store { ks = &countingStore{Store: k}; return ks },
		now:      now,
	})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	createBucket(t, ctx, s.client["t1"], "b-t1")
	putMany(t, ctx, s, []string{"t1"}, 1, 1, 4*kib, 1)

	skew.Store(int64(6 * time.Minute)) // past the 5-minute cache
	ks.holdUnwrap, ks.entered = make(chan struct{}), make(chan string, 64)
	const concurrent = 16
	done := make(chan struct{})
	go func() {
		defer close(done)
		putMany(t, ctx, s, []string{"t1"}, 2, concurrent, 4*kib, concurrent)
	}()
	select {
	case <-ks.entered:
	case <-done:
		t.Fatal("the PUTs after the cache expired returned without unwrapping the tenant key")
	}
	// A second Unwrap while the first is held is the failure; give the
	// other requests time to reach the key path and show it.
	select {
	case <-ks.entered:
	case <-time.After(time.Second):
	}
	close(ks.holdUnwrap)
	<-done
	if got := ks.unwraps.Load(); got != 1 {
		t.Errorf("%d concurrent PUTs after the tenant key's cache expired: %d unwraps, want 1", concurrent, got)
	}
}
