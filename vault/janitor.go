package vault

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/meta"
)

// Garbage is collected in the background, after a grace period, rather than
// right after the commit that made it: a GET that read the old record just
// before an overwrite can still stream the old bytes, and the write path
// does not pay for a second transaction.

func garbageStamp() []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
}

// collect tells the janitor that there is garbage to remove.
func (v *Vault) collect(_ context.Context, garbage []string) {
	if len(garbage) == 0 {
		return
	}
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// removeBlob deletes a blob that was never committed (a failed write).
func (v *Vault) removeBlob(bl Blob) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := v.offerStore(bl.offer)
	if err == nil {
		err = store.Delete(ctx, bl.Name)
	}
	if err != nil {
		v.log.Warn("removing an uncommitted blob failed; the next sweep will retry", "blob", bl.Name, "offer", bl.offer, "err", err)
	}
}

// JanitorConfig tunes the background work of a vault.
type JanitorConfig struct {
	Interval time.Duration // 0: one minute
	Grace    time.Duration // age of garbage before its bytes go; 0: one minute
}

// Run does the vault's background work until ctx ends: at start it sweeps
// blobs that a crash left unreferenced, then it periodically removes garbage,
// aborts expired multipart uploads and deletes expired temporary keys.
func (v *Vault) Run(ctx context.Context, c JanitorConfig) error {
	if c.Interval == 0 {
		c.Interval = time.Minute
	}
	if c.Grace == 0 {
		c.Grace = time.Minute
	}
	migrated := make(chan struct{})
	go func() {
		defer close(migrated)
		v.migrator(ctx, c.Interval)
	}()
	defer func() { <-migrated }()
	defer v.account(context.WithoutCancel(ctx))
	if n, err := v.Sweep(ctx); err != nil {
		v.log.Warn("sweeping unreferenced blobs failed", "err", err)
	} else if n > 0 {
		v.log.Info("removed blobs left by an interrupted write", "blobs", n)
	}
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		if n, err := v.ExpireUploads(ctx); err != nil {
			v.log.Warn("expiring multipart uploads failed", "err", err)
		} else if n > 0 {
			v.log.Info("aborted expired multipart uploads", "uploads", n)
		}
		if n, err := v.ExpireTemporaryKeys(ctx); err != nil {
			v.log.Warn("deleting expired temporary keys failed", "err", err)
		} else if n > 0 {
			v.log.Info("deleted expired temporary keys", "keys", n)
		}
		if _, err := v.CollectGarbage(ctx, v.now().Add(-c.Grace)); err != nil {
			v.log.Warn("collecting garbage failed", "err", err)
		}
		if err := v.account(ctx); err != nil {
			v.log.Warn("accounting usage failed", "err", err)
		}
		// Zero the tenant keys whose cache time is over: nothing else
		// does until Close.
		v.keyCache.expire(v.now(), false, "")
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-v.wake:
			// Let the grace period pass before looking.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(c.Grace):
			}
		}
	}
}

// CollectGarbage deletes the blobs journalled as garbage before the given
// time, then their journal records. It returns how many it removed.
func (v *Vault) CollectGarbage(ctx context.Context, before time.Time) (int, error) {
	const batch = 256
	total := 0
	for {
		var keys [][]byte
		err := v.view(ctx, func(tx meta.Tx) error {
			keys = keys[:0]
			pre := []byte(pGarbage)
			return tx.Scan(pre, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
				if len(val) == 8 && int64(binary.BigEndian.Uint64(val)) > before.UnixNano() {
					return true, nil
				}
				keys = append(keys, append([]byte(nil), k...))
				return len(keys) < batch, nil
			})
		})
		if err != nil || len(keys) == 0 {
			return total, err
		}
		done := keys[:0]
		for _, k := range keys {
			name, offer := parseGarbageKey(k)
			store, err := v.offerStore(offer)
			if err == nil {
				err = store.Delete(ctx, name)
			}
			if err != nil {
				v.log.Warn("deleting a garbage blob failed; will retry", "blob", name, "offer", v.offerName(offer), "err", err)
				continue
			}
			done = append(done, k)
		}
		if len(done) == 0 {
			return total, nil
		}
		err = v.update(ctx, func(tx meta.Tx) error {
			for _, k := range done {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(done)
		if len(keys) < batch {
			return total, nil
		}
	}
}

// Sweep deletes blobs that no record references and that are older than this
// vault's start, on every offer: what a crash between a blob write and its
// commit leaves (or, during a migration, between a copy and its commit).
func (v *Vault) Sweep(ctx context.Context) (int, error) {
	n := 0
	var errs []error
	for _, offer := range v.Offers() {
		m, err := v.sweepOffer(ctx, offer)
		n += m
		if err != nil {
			errs = append(errs, fmt.Errorf("offer %s: %w", offer, err))
		}
	}
	return n, errors.Join(errs...)
}

func (v *Vault) sweepOffer(ctx context.Context, offer string) (int, error) {
	store := v.offers[offer]
	var orphans []string
	err := store.List(ctx, "", func(info backend.Info) error {
		if _, busy := v.writing.Load(info.Name); busy || !info.ModTime.Before(v.started) {
			return nil
		}
		var referenced bool
		err := v.view(ctx, func(tx meta.Tx) (err error) {
			referenced, err = v.referencedOn(tx, info.Name, offer)
			return err
		})
		if err != nil {
			return err
		}
		if !referenced {
			orphans = append(orphans, info.Name)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range orphans {
		if err := store.Delete(ctx, name); err == nil {
			n++
		}
	}
	return n, nil
}
