package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/meta"
)

// A migration moves a bucket's blobs from the offer it leaves to the offer
// it now uses, one blob at a time: copy the ciphertext, read the copy back
// and compare its SHA-256 with the original's, then, in one transaction,
// point the blob's reference at the new offer and journal the old copy as
// garbage (removed after the grace period, so that GETs under way finish).
// Every step is idempotent, and the work left is the o/<from>/<bid>/ range,
// so a migration resumes where it stopped after a crash or a restart. It
// ends, in a transaction that finds that range empty, by giving the bucket
// its new sensitivity.

func kMigrating(bucket string) []byte { return []byte("w/" + bucket) }

func (v *Vault) wakeMigrator() {
	select {
	case v.migrateWake <- struct{}{}:
	default:
	}
}

// migrator runs the bucket migrations until ctx ends, retrying failures
// (an offer that is down) every retry.
func (v *Vault) migrator(ctx context.Context, retry time.Duration) {
	t := time.NewTicker(retry)
	defer t.Stop()
	for {
		if err := v.Migrate(ctx); err != nil && ctx.Err() == nil {
			v.log.Warn("bucket migration paused; it resumes by itself", "err", err, "retry_in", retry)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-v.migrateWake:
		}
	}
}

// Migrate runs every pending migration to its end, or to the first error.
func (v *Vault) Migrate(ctx context.Context) error {
	var names []string
	err := v.view(ctx, func(tx meta.Tx) error {
		names = names[:0]
		pre := []byte("w/")
		return tx.Scan(pre, meta.PrefixEnd(pre), func(k, _ []byte) (bool, error) {
			names = append(names, string(k[len(pre):]))
			return true, nil
		})
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if err := v.migrateBucket(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("bucket %s: %w", name, err))
			v.noteMigrationError(ctx, name, err)
		}
	}
	return errors.Join(errs...)
}

// migrateBucket moves a bucket's blobs in batches, then ends its migration.
func (v *Vault) migrateBucket(ctx context.Context, name string) error {
	const batch = 64
	for {
		var (
			b     Bucket
			blobs []string
		)
		err := v.view(ctx, func(tx meta.Tx) error {
			blobs = blobs[:0]
			switch err := getRecord(tx, kBucket(name), &b); {
			case errors.Is(err, meta.ErrNotFound):
				b = Bucket{}
				return nil
			case err != nil:
				return err
			}
			if b.Migration == nil {
				return nil
			}
			pre := kOfferBlobs(b.Migration.From, b.ID)
			return tx.Scan(pre, meta.PrefixEnd(pre), func(k, _ []byte) (bool, error) {
				blobs = append(blobs, string(k[len(pre):]))
				return len(blobs) < batch, nil
			})
		})
		if err != nil {
			return err
		}
		if b.Migration == nil {
			return v.update(ctx, func(tx meta.Tx) error { return tx.Delete(kMigrating(name)) })
		}
		if len(blobs) == 0 {
			done, err := v.finishMigration(ctx, name, b.ID)
			if done || err != nil {
				return err
			}
			continue // a write landed on the old offer meanwhile
		}
		for _, blob := range blobs {
			if err := v.moveBlob(ctx, b, blob); err != nil {
				return err
			}
		}
	}
}

// moveBlob copies one blob to the bucket's new offer, verifies the copy,
// and switches its reference.
func (v *Vault) moveBlob(ctx context.Context, b Bucket, blob string) error {
	from, to := v.offerName(b.Migration.From), v.offerName(b.Offer)
	src, err := v.offerStore(from)
	if err != nil {
		return err
	}
	dst, err := v.offerStore(to)
	if err != nil {
		return err
	}
	v.writing.Store(blob, struct{}{})
	defer v.writing.Delete(blob)
	size, err := copyVerified(ctx, src, dst, blob)
	if errors.Is(err, backend.ErrNotFound) {
		// Released and collected since the scan: the commit below finds
		// no reference and drops the index entry.
		size, err = 0, nil
	}
	if err != nil {
		return err
	}
	moved := false
	err = v.update(ctx, func(tx meta.Tx) error {
		moved = false
		val, err := tx.Get(kRef(blob))
		if errors.Is(err, meta.ErrNotFound) || err == nil && v.offerName(string(val)) != from {
			// Released (or moved) meanwhile: only the index entry is left.
			return tx.Delete(kOfferBlob(from, b.ID, blob))
		} else if err != nil {
			return err
		}
		var plain int64
		if sv, err := tx.Get(kOfferBlob(from, b.ID, blob)); err == nil && len(sv) == 8 {
			plain = int64(binary.BigEndian.Uint64(sv))
		}
		for _, op := range []func() error{
			func() error { return tx.Put(kRef(blob), []byte(to)) },
			func() error { return tx.Delete(kOfferBlob(from, b.ID, blob)) },
			func() error {
				return tx.Put(kOfferBlob(to, b.ID, blob), binary.BigEndian.AppendUint64(nil, uint64(plain)))
			},
			func() error { return tx.Put(kGarbage(blob, from), garbageStamp()) },
			func() error { return addUsage(tx, b.Tenant, from, usage{Bytes: -plain, Blobs: -1}) },
			func() error { return addUsage(tx, b.Tenant, to, usage{Bytes: plain, Blobs: 1}) },
		} {
			if err := op(); err != nil {
				return err
			}
		}
		var cur Bucket
		if err := getRecord(tx, kBucket(b.Name), &cur); err != nil {
			return err
		}
		if cur.Migration != nil {
			cur.Migration.MovedBlobs++
			cur.Migration.MovedBytes += plain
			cur.Migration.LastError = ""
			if err := v.putBucket(tx, cur); err != nil {
				return err
			}
		}
		moved = true
		return nil
	})
	if err != nil {
		return err
	}
	if !moved && size > 0 {
		// The copy serves nothing: remove it now rather than at the
		// next sweep.
		if err := dst.Delete(ctx, blob); err != nil {
			v.log.Warn("removing an unneeded copy failed; the next sweep will", "blob", blob, "offer", to, "err", err)
		}
	}
	if moved {
		v.collect(ctx, []string{blob})
	}
	return nil
}

// copyVerified copies a blob from src to dst, then reads the copy back and
// compares digests. It returns the size copied.
func copyVerified(ctx context.Context, src, dst backend.Store, name string) (int64, error) {
	info, err := src.Stat(ctx, name)
	if err != nil {
		return 0, err
	}
	rc, err := src.Get(ctx, name, 0, -1)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	err = dst.Put(ctx, name, io.TeeReader(rc, h), info.Size)
	rc.Close()
	if err != nil {
		return 0, fmt.Errorf("%w: copying blob %s: %v", ErrBackendUnavailable, name, err)
	}
	want := h.Sum(nil)
	back, err := dst.Get(ctx, name, 0, -1)
	if err != nil {
		return 0, fmt.Errorf("%w: reading back blob %s: %v", ErrBackendUnavailable, name, err)
	}
	h.Reset()
	n, err := io.Copy(h, back)
	back.Close()
	if err != nil {
		return 0, fmt.Errorf("%w: reading back blob %s: %v", ErrBackendUnavailable, name, err)
	}
	if n != info.Size || !bytes.Equal(h.Sum(nil), want) {
		return 0, fmt.Errorf("%w: the copy of blob %s differs from the original (%d of %d bytes)", ErrIntegrity, name, n, info.Size)
	}
	return n, nil
}

// finishMigration gives the bucket its new sensitivity if nothing is left
// on the old offer, in one transaction with that check.
func (v *Vault) finishMigration(ctx context.Context, name, bid string) (bool, error) {
	var (
		done bool
		b    Bucket
		m    *Migration
	)
	err := v.update(ctx, func(tx meta.Tx) error {
		done, m = false, nil
		if err := getRecord(tx, kBucket(name), &b); err != nil || b.ID != bid || b.Migration == nil {
			if errors.Is(err, meta.ErrNotFound) || err == nil {
				done = true
				return tx.Delete(kMigrating(name))
			}
			return err
		}
		if left, err := hasAny(tx, kOfferBlobs(b.Migration.From, b.ID)); err != nil || left {
			return err
		}
		m = b.Migration
		b.Sensitivity, b.Migration = m.To, nil
		if err := v.putBucket(tx, b); err != nil {
			return err
		}
		done = true
		return tx.Delete(kMigrating(name))
	})
	if err == nil && m != nil {
		v.log.Info("bucket migration done", "event", "placement.migration.done", "tenant", b.Tenant, "bucket", name,
			"from", m.From, "to", b.Offer, "sensitivity", m.To, "blobs", m.MovedBlobs, "bytes", m.MovedBytes,
			"seconds", v.now().Sub(m.Started).Seconds())
	}
	return done, err
}

// noteMigrationError records why a migration paused, for coffre placement
// explain.
func (v *Vault) noteMigrationError(ctx context.Context, name string, cause error) {
	err := v.update(ctx, func(tx meta.Tx) error {
		var b Bucket
		if err := getRecord(tx, kBucket(name), &b); err != nil || b.Migration == nil {
			return nil
		}
		b.Migration.LastError = cause.Error()
		b.Migration.LastAttempt = v.now().UTC()
		return v.putBucket(tx, b)
	})
	if err != nil {
		v.log.Warn("recording a migration error failed", "bucket", name, "err", err)
	}
}
