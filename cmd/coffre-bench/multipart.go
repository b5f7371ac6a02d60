package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// multipart times multipart uploads of -multipart-size bytes in parts of
// -part-size, -part-concurrency of them at a time, then reads the last one
// back (untimed) to check it.
func (b *bench) multipart(ctx context.Context) error {
	size := b.cfg.multipartSize
	var errs tally
	var last string
	r := b.timed(func() Result {
		var ok int64
		for i := range b.cfg.multipartIterations {
			if ctx.Err() != nil {
				break
			}
			key := fmt.Sprintf("%smultipart/%s/%03d", b.cfg.prefix, sizeName(size), i)
			if err := b.upload(ctx, key, size); err != nil {
				errs.add(err)
				continue
			}
			ok++
			last = key
		}
		return Result{Ops: ok, Bytes: ok * size}
	})
	errs.fill(&r)
	r.Scenario, r.Size, r.Unit, r.Value = "multipart-"+sizeName(size), size, "MB/s", mbps(r.Bytes, r.Seconds)
	r.Workers = b.cfg.partConcurrency
	r.Note = fmt.Sprintf("parts of %s, %d in parallel", sizeName(b.cfg.partSize), b.cfg.partConcurrency)
	if last != "" {
		if err := b.get(ctx, newVerifier(256*kib), last, size); err != nil {
			r.Errors++
			r.FirstError = "reading back: " + err.Error()
		}
	}
	if err := b.emit(r); err != nil {
		return err
	}
	return ctx.Err()
}

// upload writes size bytes of key's stream as a multipart upload, aborting
// it if a part fails.
func (b *bench) upload(ctx context.Context, key string, size int64) (err error) {
	bucket := aws.String(b.cfg.bucket)
	up, err := b.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("CreateMultipartUpload %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			b.c.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId})
		}
	}()
	psize := b.cfg.partSize
	nparts := int((size + psize - 1) / psize)
	parts := make([]types.CompletedPart, nparts)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.partConcurrency)
	seed := seedOf(key)
	for p := range nparts {
		off := int64(p) * psize
		n := min(psize, size-off)
		g.Go(func() error {
			out, err := b.c.UploadPart(gctx, &s3.UploadPartInput{
				Bucket:        bucket,
				Key:           aws.String(key),
				UploadId:      up.UploadId,
				PartNumber:    aws.Int32(int32(p + 1)),
				Body:          newStream(seed, off, n),
				ContentLength: aws.Int64(n),
			})
			if err != nil {
				return fmt.Errorf("UploadPart %s #%d: %w", key, p+1, err)
			}
			parts[p] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(p + 1))}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	_, err = b.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          bucket,
		Key:             aws.String(key),
		UploadId:        up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("CompleteMultipartUpload %s: %w", key, err)
	}
	return nil
}
