package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/coffre-cloud/coffre/meta"
)

// Usage is what a tenant stores on an offer and how much it used it.
// Bytes and Blobs are exact (kept in the transactions that change them).
// The row whose Offer is "" holds the tenant's object versions (Objects)
// and the bytes of its inline objects, kept in the metadata store.
// Requests and Egress count since this process started.
type Usage struct {
	Tenant, Offer string
	Bytes, Blobs  int64
	Objects       int64
	Requests      int64
	Egress        int64 // bytes read by GETs
	QuotaBytes    int64 // the tenant's quota, 0 for none (on every row)
	QuotaObjects  int64
	ByteSeconds   float64 // MonthUsage only: stored bytes integrated over time
	MonthRequests int64   // MonthUsage only
	MonthEgress   int64   // MonthUsage only
}

// trafficKey is a tenant and an offer.
type trafficKey struct{ tenant, offer string }

// trafficCounter counts requests and egress; flushed is what account has
// already added to the month records.
type trafficCounter struct {
	requests, egress               atomic.Int64
	flushedRequests, flushedEgress atomic.Int64
}

func (v *Vault) counter(tenant, offer string) *trafficCounter {
	k := trafficKey{tenant, v.offerName(offer)}
	if c, ok := v.traffic.Load(k); ok {
		return c.(*trafficCounter)
	}
	c, _ := v.traffic.LoadOrStore(k, new(trafficCounter))
	return c.(*trafficCounter)
}

// CountRequest counts one request of a tenant on a bucket, against the
// bucket's offer. It is called once per S3 request on a bucket that exists.
func (v *Vault) CountRequest(tenant, bucket string) {
	o, ok := v.bucketOffer.Load(bucket)
	if !ok {
		return // no such bucket (bucketFor caches those that exist)
	}
	if to := o.([2]string); to[0] == tenant {
		v.counter(tenant, to[1]).requests.Add(1)
	}
}

// kMonth is the usage record of a tenant and offer in a month (2026-11).
func kMonth(month, tenant, offer string) []byte {
	return []byte("m/" + month + "/" + tenant + "\x00" + offer)
}

var kAccounted = []byte("m/accounted")

// monthUsage is a month's record: stored bytes integrated over the
// seconds of the month, requests and egress.
type monthUsage struct {
	ByteSeconds float64 `json:"bs,omitempty"`
	Requests    int64   `json:"r,omitempty"`
	Egress      int64   `json:"e,omitempty"`
}

// account adds to the current month's records the bytes stored since the
// last accounting (each tenant's bytes on each offer times the seconds
// elapsed) and the requests and egress counted since. The janitor calls
// it every interval and at shutdown; a crash loses at most one interval
// of request and egress counts, never stored bytes.
func (v *Vault) account(ctx context.Context) error {
	now := v.now().UTC()
	month := now.Format("2006-01")
	type flush struct {
		c        *trafficCounter
		req, egr int64
	}
	var flushes []flush
	err := v.update(ctx, func(tx meta.Tx) error {
		flushes = flushes[:0]
		var elapsed float64
		if val, err := tx.Get(kAccounted); err == nil {
			var last time.Time
			if err := last.UnmarshalText(val); err == nil && now.After(last) {
				elapsed = now.Sub(last).Seconds()
			}
		} else if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		add := map[string]monthUsage{}
		pre := []byte("q/")
		err := tx.Scan(pre, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
			tenant, offer, ok := bytes.Cut(k[len(pre):], []byte{0})
			if !ok || len(offer) == 0 {
				return true, nil
			}
			var u usage
			if err := decode(val, &u); err != nil {
				return false, err
			}
			if u.Bytes > 0 && elapsed > 0 {
				key := string(tenant) + "\x00" + string(offer)
				m := add[key]
				m.ByteSeconds += float64(u.Bytes) * elapsed
				add[key] = m
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		v.traffic.Range(func(k, c any) bool {
			tc := c.(*trafficCounter)
			f := flush{c: tc, req: tc.requests.Load(), egr: tc.egress.Load()}
			dr, de := f.req-tc.flushedRequests.Load(), f.egr-tc.flushedEgress.Load()
			if dr > 0 || de > 0 {
				key := k.(trafficKey).tenant + "\x00" + k.(trafficKey).offer
				m := add[key]
				m.Requests += dr
				m.Egress += de
				add[key] = m
				flushes = append(flushes, f)
			}
			return true
		})
		for key, d := range add {
			tenant, offer, _ := bytes.Cut([]byte(key), []byte{0})
			k := kMonth(month, string(tenant), string(offer))
			var m monthUsage
			if err := getRecord(tx, k, &m); err != nil && !errors.Is(err, meta.ErrNotFound) {
				return err
			}
			m.ByteSeconds += d.ByteSeconds
			m.Requests += d.Requests
			m.Egress += d.Egress
			if err := tx.Put(k, encode(m)); err != nil {
				return err
			}
		}
		stamp, _ := now.MarshalText()
		return tx.Put(kAccounted, stamp)
	})
	if err != nil {
		return err
	}
	for _, f := range flushes {
		f.c.flushedRequests.Store(f.req)
		f.c.flushedEgress.Store(f.egr)
	}
	return nil
}

// Usage returns what every tenant stores on every offer now, with the
// requests and egress counted since this process started, sorted by
// tenant then offer.
func (v *Vault) Usage(ctx context.Context) ([]Usage, error) {
	rows := map[trafficKey]*Usage{}
	row := func(tenant, offer string) *Usage {
		k := trafficKey{tenant, offer}
		if rows[k] == nil {
			rows[k] = &Usage{Tenant: tenant, Offer: offer}
		}
		return rows[k]
	}
	err := v.view(ctx, func(tx meta.Tx) error {
		clear(rows)
		return readStored(tx, row)
	})
	if err != nil {
		return nil, err
	}
	v.traffic.Range(func(k, c any) bool {
		tk, tc := k.(trafficKey), c.(*trafficCounter)
		r := row(tk.tenant, tk.offer)
		r.Requests, r.Egress = tc.requests.Load(), tc.egress.Load()
		return true
	})
	return v.sortedUsage(rows), nil
}

// MonthUsage returns the accounting records of a month ("2026-11") with
// what is stored now, per tenant and offer, sorted by tenant then offer.
// It reads the metadata only: operator tools call it beside a serving
// process.
func (v *Vault) MonthUsage(ctx context.Context, month string) ([]Usage, error) {
	if _, err := time.Parse("2006-01", month); err != nil {
		return nil, fmt.Errorf("%w: month %q: use YYYY-MM, e.g. 2026-11", ErrInvalidArgument, month)
	}
	rows := map[trafficKey]*Usage{}
	row := func(tenant, offer string) *Usage {
		k := trafficKey{tenant, offer}
		if rows[k] == nil {
			rows[k] = &Usage{Tenant: tenant, Offer: offer}
		}
		return rows[k]
	}
	err := v.view(ctx, func(tx meta.Tx) error {
		clear(rows)
		pre := []byte("m/" + month + "/")
		err := tx.Scan(pre, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
			tenant, offer, ok := bytes.Cut(k[len(pre):], []byte{0})
			if !ok {
				return true, nil
			}
			var m monthUsage
			if err := decode(val, &m); err != nil {
				return false, err
			}
			r := row(string(tenant), string(offer))
			r.ByteSeconds, r.MonthRequests, r.MonthEgress = m.ByteSeconds, m.Requests, m.Egress
			return true, nil
		})
		if err != nil {
			return err
		}
		return readStored(tx, row)
	})
	if err != nil {
		return nil, err
	}
	return v.sortedUsage(rows), nil
}

// readStored fills rows with the usage counters.
func readStored(tx meta.Tx, row func(tenant, offer string) *Usage) error {
	pre := []byte("q/")
	return tx.Scan(pre, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
		tenant, offer, ok := bytes.Cut(k[len(pre):], []byte{0})
		if !ok {
			return true, nil
		}
		var u usage
		if err := decode(val, &u); err != nil {
			return false, err
		}
		r := row(string(tenant), string(offer))
		r.Bytes, r.Blobs, r.Objects = u.Bytes, u.Blobs, u.Objects
		return true, nil
	})
}

func (v *Vault) sortedUsage(rows map[trafficKey]*Usage) []Usage {
	out := make([]Usage, 0, len(rows))
	for _, r := range rows {
		if v.quota != nil {
			q := v.quota(r.Tenant)
			r.QuotaBytes, r.QuotaObjects = q.Bytes, q.Objects
		}
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		return out[i].Offer < out[j].Offer
	})
	return out
}
