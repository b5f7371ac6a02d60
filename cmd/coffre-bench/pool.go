package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// poolResult is what a pool of clients did.
type poolResult struct {
	done    []int64 // the indices of the operations that succeeded
	lat     []time.Duration
	errors  int64
	first   error
	elapsed time.Duration
}

func (p *poolResult) result() Result {
	r := Result{
		Ops:     int64(len(p.done)),
		Seconds: p.elapsed.Seconds(),
		P50Ms:   percentile(p.lat, 50),
		P99Ms:   percentile(p.lat, 99),
		Errors:  p.errors,
	}
	if p.first != nil {
		r.FirstError = p.first.Error()
	}
	return r
}

// runPool runs op from workers concurrent clients, each taking the next
// operation index in turn, until count operations were started (count > 0)
// or d has passed (d > 0), whichever comes first, and waits for them. A
// failed operation is counted and the pool goes on; the elapsed time runs
// until the last operation ends.
func runPool(ctx context.Context, workers int, count int64, d time.Duration, op func(ctx context.Context, worker int, i int64) error) *poolResult {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		res      poolResult
		wg       sync.WaitGroup
		deadline time.Time
	)
	start := time.Now()
	if d > 0 {
		deadline = start.Add(d)
	}
	for w := range workers {
		wg.Go(func() {
			var done []int64
			var lat []time.Duration
			var errs int64
			var first error
			for ctx.Err() == nil {
				if !deadline.IsZero() && time.Now().After(deadline) {
					break
				}
				i := next.Add(1) - 1
				if count > 0 && i >= count {
					break
				}
				t := time.Now()
				if err := op(ctx, w, i); err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, time.Since(t))
				done = append(done, i)
			}
			mu.Lock()
			defer mu.Unlock()
			res.done = append(res.done, done...)
			res.lat = append(res.lat, lat...)
			res.errors += errs
			if res.first == nil {
				res.first = first
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return &res
}
