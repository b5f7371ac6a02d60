package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/coffre-cloud/coffre/meta"
)

// Key administration: rotation rewraps keys and never re-encrypts data;
// shredding destroys a tenant's keys, which makes its data unreadable.
// These run inside the serving process (the admin socket reaches them), so
// that reads and writes continue and the in-memory key cache stays true.

// RotateTenantKey makes a new KEK version current for the tenant. New blobs
// use it at once; older blobs keep their version until RewrapTenant.
func (v *Vault) RotateTenantKey(ctx context.Context, tenant string) (int, error) {
	var t Tenant
	if err := v.view(ctx, func(tx meta.Tx) error {
		err := getRecord(tx, kTenant(tenant), &t)
		if errors.Is(err, meta.ErrNotFound) {
			return fail("%w: %s", ErrNoSuchTenant, tenant)
		}
		return err
	}); err != nil {
		return 0, err
	}
	_, version, err := v.newKEK(ctx, tenant, t.KEKVersion)
	return version, err
}

// RewrapStats says what a rewrap did.
type RewrapStats struct {
	Blobs   int   // data keys rewrapped
	Retired []int // KEK versions destroyed because nothing uses them any more
}

// RewrapTenant rewraps every data key of the tenant under its current KEK,
// then destroys the older KEK versions, which no blob needs any more. The
// bytes of the objects are not touched. It works in small transactions, so
// that reads and writes go on; progress, if not nil, is called after each.
func (v *Vault) RewrapTenant(ctx context.Context, tenant string, progress func(done int)) (RewrapStats, error) {
	var st RewrapStats
	_, current, err := v.currentKEK(ctx, tenant)
	if err != nil {
		return st, err
	}
	bs, err := v.Buckets(ctx, Principal{Tenant: tenant})
	if err != nil {
		return st, err
	}
	for _, b := range bs {
		if err := v.rewrapBucketKey(ctx, &b, current); err != nil {
			return st, err
		}
		if err := v.withRecordKey(ctx, nil, &b); err != nil {
			return st, err
		}
		prefixes := [][]byte{kVersionsOfBucket(b.ID), kLatestPrefix(b.ID)}
		// Parts of unfinished uploads hold data keys too.
		var ids []string
		err := v.view(ctx, func(tx meta.Tx) error {
			ids = ids[:0]
			pre := kUploadsOfBucket(b.ID)
			return tx.Scan(pre, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
				var u Upload
				if err := b.open(k, val, &u); err != nil {
					return false, err
				}
				ids = append(ids, u.ID)
				return true, nil
			})
		})
		if err != nil {
			return st, err
		}
		for _, id := range ids {
			prefixes = append(prefixes, kPartsOf(id))
		}
		for _, pre := range prefixes {
			n, err := v.rewrapRange(ctx, b, current, pre, progress, st.Blobs)
			st.Blobs += n
			if err != nil {
				return st, err
			}
		}
	}
	// Access key secrets are sealed under KEK versions too.
	n, err := v.rewrapAccessKeys(ctx, tenant, current)
	st.Blobs += n
	if err != nil {
		return st, err
	}
	// Nothing refers to older versions now: destroy them.
	err = v.update(ctx, func(tx meta.Tx) error {
		v.bucketGen.Add(1) // cached buckets are read under keys this may change
		st.Retired = st.Retired[:0]
		var old [][]byte
		pre := kKEKsOf(tenant)
		err := tx.Scan(pre, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
			var rec kekRecord
			if err := decode(val, &rec); err != nil {
				return false, err
			}
			if rec.Version != current {
				old = append(old, append([]byte(nil), k...))
				st.Retired = append(st.Retired, rec.Version)
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, ver := range st.Retired {
			v.keyCache.drop(tenant, ver)
		}
	}
	return st, err
}

// rewrapRange rewraps the data keys of the records under one prefix (object
// versions, latest copies, or parts), a batch per transaction.
func (v *Vault) rewrapRange(ctx context.Context, b Bucket, current int, pre []byte, progress func(int), before int) (int, error) {
	const batch = 100
	total := 0
	start := pre
	for {
		var (
			next []byte
			n    int
		)
		err := v.update(ctx, func(tx meta.Tx) error {
			v.bucketGen.Add(1) // cached buckets are read under keys this may change
			next, n = nil, 0
			type rec struct {
				k, v []byte
			}
			var todo []rec
			err := tx.Scan(start, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
				if len(todo) == batch {
					next = append([]byte(nil), k...)
					return false, nil
				}
				todo = append(todo, rec{append([]byte(nil), k...), append([]byte(nil), val...)})
				return true, nil
			})
			if err != nil {
				return err
			}
			for _, r := range todo {
				out, changed, err := v.rewrapRecord(ctx, b, current, r.k, r.v)
				if err != nil {
					return err
				}
				if changed > 0 {
					n += changed
					if err := tx.Put(r.k, out); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if progress != nil && n > 0 {
			progress(before + total)
		}
		if next == nil {
			return total, nil
		}
		start = next
	}
}

// rewrapRecord rewraps the data keys of one Object record (sealed) or Part
// record (not sealed: it holds no name).
func (v *Vault) rewrapRecord(ctx context.Context, b Bucket, current int, k, val []byte) ([]byte, int, error) {
	tenant := b.Tenant
	if string(k[:2]) == pPart {
		var p Part
		if err := decode(val, &p); err != nil {
			return nil, 0, err
		}
		if p.KEK == current || p.DEK == nil {
			return nil, 0, nil
		}
		bl := Blob{Name: p.Blob, DEK: p.DEK, KEK: p.KEK, SSEC: p.SSEC}
		if err := v.rewrapBlob(ctx, tenant, current, &bl); err != nil {
			return nil, 0, err
		}
		p.DEK, p.KEK = bl.DEK, bl.KEK
		return encode(p), 1, nil
	}
	var o Object
	if err := b.open(k, val, &o); err != nil {
		return nil, 0, err
	}
	changed := 0
	for i := range o.Blobs {
		if o.Blobs[i].KEK == current {
			continue
		}
		if err := v.rewrapBlob(ctx, tenant, current, &o.Blobs[i]); err != nil {
			return nil, 0, err
		}
		changed++
	}
	if changed == 0 {
		return nil, 0, nil
	}
	return b.seal(k, &o), changed, nil
}

// rewrapBucketKey rewraps a bucket's key under the tenant's current KEK.
func (v *Vault) rewrapBucketKey(ctx context.Context, b *Bucket, current int) error {
	if b.MKV == current {
		return nil
	}
	mk, err := v.openBucketKey(ctx, nil, *b)
	if err != nil {
		return err
	}
	defer clear(mk)
	aead, err := v.kek(ctx, b.Tenant, current)
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(mk)+aead.Overhead())
	rand.Read(nonce)
	wrapped := aead.Seal(nonce, nonce, mk, bucketKeyAD(b.Tenant, b.ID, current))
	return v.update(ctx, func(tx meta.Tx) error {
		v.bucketGen.Add(1) // cached buckets are read under keys this may change
		var cur Bucket
		if err := getRecord(tx, kBucket(b.Name), &cur); err != nil {
			return err
		}
		if cur.ID != b.ID {
			return nil // deleted and made again meanwhile
		}
		cur.MK, cur.MKV = wrapped, current
		b.MK, b.MKV = wrapped, current
		return v.putBucket(tx, cur)
	})
}

func (v *Vault) rewrapBlob(ctx context.Context, tenant string, current int, b *Blob) error {
	// Only the tenant-key layer changes: an SSE-C data key stays sealed
	// with the customer's key, which Coffre never has at rest.
	dek, err := v.unwrapKEKLayer(ctx, tenant, *b, nil)
	if err != nil {
		return err
	}
	defer clear(dek)
	aead, err := v.kek(ctx, tenant, current)
	if err != nil {
		return err
	}
	b.DEK = sealDEK(aead, dek, tenant, b.Name)
	b.KEK = current
	return nil
}

// OnRootRotation registers fn, which wraps again under the current root key
// what else the site wraps with it (the identity register's key):
// RotateRootKey calls it after the tenant keys, before it retires the old
// root key, and counts what it rewrapped. Call it before serving.
func (v *Vault) OnRootRotation(fn func(context.Context) (rewrapped int, err error)) {
	v.rootUsers = append(v.rootUsers, fn)
}

// RotateRootKey makes a new site root key current, rewraps every tenant KEK
// under it, and, when retire is set, destroys the previous root key.
func (v *Vault) RotateRootKey(ctx context.Context, retire bool) (version, rewrapped int, err error) {
	old, err := v.keys.Current(ctx)
	if err != nil {
		return 0, 0, keyErr(err)
	}
	if version, err = v.keys.Rotate(ctx); err != nil {
		return 0, 0, keyErr(err)
	}
	var keysToDo [][]byte
	err = v.view(ctx, func(tx meta.Tx) error {
		keysToDo = keysToDo[:0]
		pre := []byte(pKEK)
		return tx.Scan(pre, meta.PrefixEnd(pre), func(k, _ []byte) (bool, error) {
			keysToDo = append(keysToDo, append([]byte(nil), k...))
			return true, nil
		})
	})
	if err != nil {
		return version, 0, err
	}
	for _, k := range keysToDo {
		done, err := v.rewrapKEK(ctx, k)
		if err != nil {
			return version, rewrapped, err
		}
		if done {
			rewrapped++
		}
	}
	for _, rewrap := range v.rootUsers {
		n, err := rewrap(ctx)
		if err != nil {
			return version, rewrapped, err
		}
		rewrapped += n
	}
	if retire {
		if err := v.keys.Retire(ctx, old); err != nil {
			return version, rewrapped, keyErr(err)
		}
	}
	return version, rewrapped, nil
}

// rewrapKEK rewraps one tenant KEK record under the current root key. The
// key store calls run outside the metadata transaction (whose writer every
// write of the site shares); the record is replaced only if it did not
// change meanwhile. done is false when the record is gone (shredded).
func (v *Vault) rewrapKEK(ctx context.Context, k []byte) (done bool, err error) {
	tenant := string(k[len(pKEK) : len(k)-5])
	for {
		var rec kekRecord
		found := true
		err := v.view(ctx, func(tx meta.Tx) error {
			err := getRecord(tx, k, &rec)
			if errors.Is(err, meta.ErrNotFound) {
				found = false
				return nil
			}
			return err
		})
		if err != nil || !found {
			return false, err
		}
		ad := kekAD(tenant, rec.Version)
		key, err := v.keys.Unwrap(ctx, rec.Wrapped, ad)
		if err != nil {
			return false, keyErr(err)
		}
		wrapped, err := v.keys.Wrap(ctx, key, ad)
		clear(key)
		if err != nil {
			return false, keyErr(err)
		}
		changed, gone := false, false
		err = v.update(ctx, func(tx meta.Tx) error {
			v.bucketGen.Add(1) // cached buckets are read under keys this may change
			changed, gone = false, false
			var cur kekRecord
			switch err := getRecord(tx, k, &cur); {
			case errors.Is(err, meta.ErrNotFound):
				gone = true
				return nil
			case err != nil:
				return err
			}
			if !bytes.Equal(cur.Wrapped, rec.Wrapped) {
				changed = true
				return nil
			}
			cur.Wrapped = wrapped
			return tx.Put(k, encode(cur))
		})
		switch {
		case err != nil:
			return false, err
		case gone:
			return false, nil
		case !changed:
			return true, nil
		}
	}
}

// ShredTenant destroys every key of the tenant: from then on every read of
// its data fails with ErrKeyDestroyed, and no write is accepted. The
// ciphertext stays where it is, unreadable by anyone, the State included.
func (v *Vault) ShredTenant(ctx context.Context, tenant string) (destroyed int, err error) {
	err = v.update(ctx, func(tx meta.Tx) error {
		v.bucketGen.Add(1) // cached buckets are read under keys this may change
		destroyed = 0
		t, err := v.readTenant(tx, tenant)
		if err != nil {
			return err
		}
		var ks [][]byte
		pre := kKEKsOf(tenant)
		if err := tx.Scan(pre, meta.PrefixEnd(pre), func(k, _ []byte) (bool, error) {
			ks = append(ks, append([]byte(nil), k...))
			return true, nil
		}); err != nil {
			return err
		}
		for _, k := range ks {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		destroyed = len(ks)
		t.Shredded, t.KEKVersion = true, 0
		return tx.Put(kTenant(tenant), encode(t))
	})
	v.keyCache.expire(v.now(), false, tenant)
	v.writeKEKs.Delete(tenant)
	if err != nil {
		return 0, err
	}
	v.log.Warn("tenant keys destroyed (crypto-shredding)", "tenant", tenant, "key_versions", destroyed)
	return destroyed, nil
}

// KeyStatus describes a tenant's keys.
type KeyStatus struct {
	Tenant   string
	Current  int
	Versions []int
	Shredded bool
}

// TenantKeys lists the KEK versions of a tenant.
func (v *Vault) TenantKeys(ctx context.Context, tenant string) (KeyStatus, error) {
	ks := KeyStatus{Tenant: tenant}
	err := v.view(ctx, func(tx meta.Tx) error {
		t, err := v.readTenant(tx, tenant)
		if err != nil {
			return err
		}
		ks.Current, ks.Shredded, ks.Versions = t.KEKVersion, t.Shredded, nil
		pre := kKEKsOf(tenant)
		return tx.Scan(pre, meta.PrefixEnd(pre), func(_, val []byte) (bool, error) {
			var rec kekRecord
			if err := decode(val, &rec); err != nil {
				return false, err
			}
			ks.Versions = append(ks.Versions, rec.Version)
			return true, nil
		})
	})
	if err != nil {
		return ks, fmt.Errorf("tenant keys: %w", err)
	}
	return ks, nil
}

// rewrapAccessKeys reseals the tenant's access key secrets under its
// current KEK.
func (v *Vault) rewrapAccessKeys(ctx context.Context, tenant string, current int) (int, error) {
	ks, err := v.AccessKeys(ctx, tenant)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range ks {
		if k.KEK == current {
			continue
		}
		// The whole record, so that a temporary key stays temporary; a
		// key deleted meanwhile (revoked, or an expired temporary key)
		// stays deleted.
		full, err := v.LookupKey(ctx, k.ID)
		if err == nil {
			_, err = v.storeKey(ctx, full, true)
		}
		if errors.Is(err, ErrInvalidAccessKeyID) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
