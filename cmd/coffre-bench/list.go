package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// list creates -list-keys empty objects with many concurrent clients (itself
// a measure: the rate of small metadata-only writes), then times full
// ListObjectsV2 walks over them in pages of -list-page keys.
func (b *bench) list(ctx context.Context) error {
	listPrefix := b.cfg.prefix + "list/"
	var created *poolResult
	r := b.timed(func() Result {
		created = runPool(ctx, b.cfg.listConcurrency, b.cfg.listKeys, b.cfg.listCreateMax, func(ctx context.Context, _ int, i int64) error {
			key := fmt.Sprintf("%s%07d", listPrefix, i)
			_, err := b.c.PutObject(ctx, &s3.PutObjectInput{
				Bucket:        aws.String(b.cfg.bucket),
				Key:           aws.String(key),
				Body:          bytes.NewReader(nil),
				ContentLength: aws.Int64(0),
			})
			if err != nil {
				return fmt.Errorf("PUT %s: %w", key, err)
			}
			return nil
		})
		return created.result()
	})
	r.Scenario, r.Unit, r.Value = "list-create", "ops/s", rate(r.Ops, r.Seconds)
	r.Workers = b.cfg.listConcurrency
	r.Note = "empty objects"
	if n := int64(len(created.done)); n < b.cfg.listKeys && created.errors == 0 {
		r.Note += fmt.Sprintf("; stopped after -list-create-max %v with %d of %d keys", b.cfg.listCreateMax, n, b.cfg.listKeys)
	}
	if err := b.emit(r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	want := int64(len(created.done))

	var errs tally
	var pages []time.Duration
	var walked int64
	r = b.timed(func() Result {
		for range b.cfg.listWalks {
			if ctx.Err() != nil {
				break
			}
			n, err := b.walk(ctx, listPrefix, &pages)
			if err == nil && n < want {
				err = fmt.Errorf("listing %s returned %d keys, want at least the %d created", listPrefix, n, want)
			}
			errs.add(err)
			if err == nil {
				walked += n
			}
		}
		return Result{Ops: walked}
	})
	errs.fill(&r)
	r.Scenario, r.Unit, r.Value = "list-walk", "keys/s", rate(r.Ops, r.Seconds)
	r.P50Ms, r.P99Ms = percentile(pages, 50), percentile(pages, 99)
	r.Note = fmt.Sprintf("%d walks over %d keys, pages of %d; p50/p99 are per page", b.cfg.listWalks, want, b.cfg.listPage)
	if err := b.emit(r); err != nil {
		return err
	}
	return ctx.Err()
}

// walk lists every key under listPrefix, checks that they come in strictly
// increasing order, and returns how many there were. It appends the time of
// each page to pages.
func (b *bench) walk(ctx context.Context, listPrefix string, pages *[]time.Duration) (int64, error) {
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(b.cfg.bucket),
		Prefix:  aws.String(listPrefix),
		MaxKeys: aws.Int32(int32(b.cfg.listPage)),
	}
	var n int64
	last := ""
	for {
		t := time.Now()
		out, err := b.c.ListObjectsV2(ctx, in)
		if err != nil {
			return n, fmt.Errorf("ListObjectsV2 %s after %d keys: %w", listPrefix, n, err)
		}
		*pages = append(*pages, time.Since(t))
		for _, o := range out.Contents {
			k := aws.ToString(o.Key)
			if k <= last {
				return n, fmt.Errorf("ListObjectsV2 %s: key %q after %q: not in order", listPrefix, k, last)
			}
			last = k
			n++
		}
		if !aws.ToBool(out.IsTruncated) {
			return n, nil
		}
		if out.NextContinuationToken == nil {
			return n, fmt.Errorf("ListObjectsV2 %s: truncated page without a continuation token after %d keys", listPrefix, n)
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}
