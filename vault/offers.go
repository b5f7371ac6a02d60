package vault

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/meta"
)

// A site writes to several offers (backends); each bucket names the one its
// new bytes go to. Where each blob is, is recorded once, in its reference
// record r/<blob>, whose value is the offer's name. A migration moves a blob
// to another offer by copying it and changing that value; object and part
// records never say where their bytes are.
//
// Beside r/, an offer's index o/<offer>/<bid>/<blob> lists the blobs of a
// bucket on an offer, with their sizes: a migration finds there what is
// left to move, and knows it has finished when that range is empty.
//
// Usage counters q/<tenant>\x00<offer> (bytes and blobs on the offer) and
// q/<tenant>\x00 (the tenant's object versions) change in the transaction
// that references or releases the bytes, so they are exact.

// offerStore returns the backend of an offer; "" is the default offer, where
// blobs written before offers were recorded live.
func (v *Vault) offerStore(name string) (backend.Store, error) {
	if s := v.offers[v.offerName(name)]; s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("%w: offer %q is not configured at this site", ErrBackendUnavailable, name)
}

// offerName maps "" (records written before offers) to the default offer.
func (v *Vault) offerName(name string) string {
	if name == "" {
		return v.defaultOffer
	}
	return name
}

// Offers returns the names of the site's offers, sorted.
func (v *Vault) Offers() []string {
	names := make([]string, 0, len(v.offers))
	for n := range v.offers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func kOfferBlobs(offer, bid string) []byte { return []byte("o/" + offer + "/" + bid + "/") }
func kOfferBlob(offer, bid, blob string) []byte {
	return append(kOfferBlobs(offer, bid), blob...)
}

func kUsage(tenant, offer string) []byte { return []byte("q/" + tenant + "\x00" + offer) }
func kUsageOf(tenant string) []byte      { return []byte("q/" + tenant + "\x00") }

// usage is what a tenant stores on an offer; the record without an offer
// counts its object versions.
type usage struct {
	Bytes   int64 `json:"b,omitempty"` // plaintext bytes of the blobs
	Blobs   int64 `json:"n,omitempty"`
	Objects int64 `json:"o,omitempty"`
}

func addUsage(tx meta.Tx, tenant, offer string, d usage) error {
	if ut, ok := tx.(*usageTx); ok {
		k := [2]string{tenant, offer}
		sum := ut.deltas[k]
		sum.Bytes += d.Bytes
		sum.Blobs += d.Blobs
		sum.Objects += d.Objects
		ut.deltas[k] = sum
		return nil
	}
	return applyUsage(tx, tenant, offer, d)
}

// usageTx is a transaction that sums its changes of usage and applies
// them once, at flush: a PUT that replaces a version changes its tenant's
// counters four times.
type usageTx struct {
	meta.Tx
	deltas map[[2]string]usage
}

func withUsage(tx meta.Tx) *usageTx { return &usageTx{Tx: tx, deltas: make(map[[2]string]usage, 2)} }

func (ut *usageTx) flush() error {
	for k, d := range ut.deltas {
		if d == (usage{}) {
			continue
		}
		if err := applyUsage(ut.Tx, k[0], k[1], d); err != nil {
			return err
		}
	}
	clear(ut.deltas)
	return nil
}

func applyUsage(tx meta.Tx, tenant, offer string, d usage) error {
	var u usage
	if err := getRecord(tx, kUsage(tenant, offer), &u); err != nil && !errors.Is(err, meta.ErrNotFound) {
		return err
	}
	// Records written before usage was counted make no counter negative.
	u.Bytes = max(u.Bytes+d.Bytes, 0)
	u.Blobs = max(u.Blobs+d.Blobs, 0)
	u.Objects = max(u.Objects+d.Objects, 0)
	return tx.Put(kUsage(tenant, offer), encode(u))
}

// tenantUsage sums a tenant's usage over every offer.
func tenantUsage(tx meta.Tx, tenant string) (usage, error) {
	var sum usage
	pre := kUsageOf(tenant)
	err := tx.Scan(pre, meta.PrefixEnd(pre), func(_, val []byte) (bool, error) {
		var u usage
		if err := decode(val, &u); err != nil {
			return false, err
		}
		sum.Bytes += u.Bytes
		sum.Blobs += u.Blobs
		sum.Objects += u.Objects
		return true, nil
	})
	return sum, err
}

// Quota bounds what a tenant stores; zero means no bound.
type Quota struct {
	Bytes   int64
	Objects int64
}

// checkQuota refuses a write that would leave the tenant past its quota
// with addBytes more bytes and addObjects more objects. Writes check it in
// their commit, after what they replace is released (adding nothing), and
// before uploading (precheckQuota).
func (v *Vault) checkQuota(tx meta.Tx, tenant string, addBytes, addObjects int64) error {
	if v.quota == nil {
		return nil
	}
	q := v.quota(tenant)
	if q.Bytes <= 0 && q.Objects <= 0 {
		return nil
	}
	u, err := tenantUsage(tx, tenant)
	if err != nil {
		return err
	}
	if q.Bytes > 0 && u.Bytes+addBytes > q.Bytes {
		return fail("%w: tenant %s would store %d bytes; its quota is %d bytes", ErrQuotaExceeded, tenant, u.Bytes+addBytes, q.Bytes)
	}
	if q.Objects > 0 && u.Objects+addObjects > q.Objects {
		return fail("%w: tenant %s would store %d objects; its quota is %d objects", ErrQuotaExceeded, tenant, u.Objects+addObjects, q.Objects)
	}
	return nil
}

// precheckMin is the smallest upload that precheckQuota checks: a
// smaller one costs less to receive than the transaction, and its commit
// checks the quota anyway.
const precheckMin = 1 << 20

// precheckQuota is checkQuota in a transaction of its own, before size
// bytes are uploaded to key of bucket b (key "" for a part), so that a
// large upload over quota is refused before its bytes are sent; the commit
// checks again. An overwrite in a bucket without versioning counts only
// what it adds to the version it replaces.
func (v *Vault) precheckQuota(ctx context.Context, b Bucket, key string, size int64) error {
	if v.quota == nil || size < precheckMin {
		return nil
	}
	return v.view(ctx, func(tx meta.Tx) error {
		var freed int64
		if key != "" && b.Versioning != VersioningEnabled {
			if cur, err := latestObject(tx, b, key); err == nil && cur != nil && cur.VersionID == "null" {
				freed = cur.Size
			}
		}
		return v.checkQuota(tx, b.Tenant, size-freed, 0)
	})
}

// refBlob records that a bucket references a blob just written to its
// offer.
func (v *Vault) refBlob(tx meta.Tx, b Bucket, bl Blob) error {
	offer := v.offerName(bl.offer)
	if err := tx.Put(kRef(bl.Name), []byte(offer)); err != nil {
		return err
	}
	if err := tx.Put(kOfferBlob(offer, b.ID, bl.Name), binary.BigEndian.AppendUint64(nil, uint64(bl.Size))); err != nil {
		return err
	}
	return addUsage(tx, b.Tenant, offer, usage{Bytes: bl.Size, Blobs: 1})
}

// kInline holds the ciphertext of an inline blob.
func kInline(blob string) []byte { return []byte("d/" + blob) }

// putInline stores an inline blob with the commit that references it. Its
// bytes count in the tenant's usage, on no offer.
func (v *Vault) putInline(tx meta.Tx, b Bucket, bl Blob) error {
	if !bl.Here {
		if err := tx.Put(kInline(bl.Name), bl.data); err != nil {
			return err
		}
	}
	return addUsage(tx, b.Tenant, "", usage{Bytes: bl.Size})
}

// markGarbage moves blobs of a bucket from referenced to garbage, on the
// offers their references name, and returns their names. Inline blobs go
// at once: their readers hold a copy.
func (v *Vault) markGarbage(tx meta.Tx, b Bucket, blobs []Blob) ([]string, error) {
	names := make([]string, 0, len(blobs))
	for _, bl := range blobs {
		if bl.Inline {
			if bl.Here {
				// Gone with its record.
			} else if err := tx.Delete(kInline(bl.Name)); err != nil {
				return nil, err
			}
			if err := addUsage(tx, b.Tenant, "", usage{Bytes: -bl.Size}); err != nil {
				return nil, err
			}
			continue
		}
		val, err := tx.Get(kRef(bl.Name))
		if errors.Is(err, meta.ErrNotFound) {
			continue // already released
		} else if err != nil {
			return nil, err
		}
		offer := v.offerName(string(val))
		if err := tx.Delete(kRef(bl.Name)); err != nil {
			return nil, err
		}
		size := bl.Size
		ok := kOfferBlob(offer, b.ID, bl.Name)
		if sv, err := tx.Get(ok); err == nil && len(sv) == 8 {
			size = int64(binary.BigEndian.Uint64(sv))
		}
		if err := tx.Delete(ok); err != nil {
			return nil, err
		}
		if err := tx.Put(kGarbage(bl.Name, offer), garbageStamp()); err != nil {
			return nil, err
		}
		if err := addUsage(tx, b.Tenant, offer, usage{Bytes: -size, Blobs: -1}); err != nil {
			return nil, err
		}
		names = append(names, bl.Name)
	}
	return names, nil
}

// resolveBlobs finds where each of o's blobs is, for Open: the ciphertext
// of inline blobs, read in the transaction that read o (so that a commit
// releasing them later changes nothing for this read), and the offer of
// the others.
//
// It also reads the records of the blobs' KEKs, so that Open needs no
// transaction of its own; a record that cannot be read is left for Open to
// report.
func (v *Vault) resolveBlobs(tx meta.Tx, tenant string, o *Object) error {
	multi := len(v.offers) > 1
	for i, bl := range o.Blobs {
		if _, ok := o.keks[bl.KEK]; !ok && len(bl.DEK) > 0 {
			var rec kekRecord
			if readKEK(tx, tenant, bl.KEK, &rec) == nil {
				if o.keks == nil {
					o.keks = make(map[int]kekRecord, 1)
				}
				o.keks[bl.KEK] = rec
			}
		}
		if bl.Inline {
			data := bl.data // a Here blob's, read with the record
			if !bl.Here {
				d, err := tx.Get(kInline(bl.Name))
				if err != nil && !errors.Is(err, meta.ErrNotFound) {
					return err
				}
				data = bytes.Clone(d)
			}
			if data == nil {
				return fmt.Errorf("%w: inline blob %s is missing", ErrIntegrity, bl.Name)
			}
			if o.inline == nil {
				o.inline = make([][]byte, len(o.Blobs))
			}
			o.inline[i] = data
			continue
		}
		if !multi {
			continue // every blob is on the one offer
		}
		if o.offers == nil {
			o.offers = make([]string, len(o.Blobs))
		}
		val, err := tx.Get(kRef(bl.Name))
		switch {
		case errors.Is(err, meta.ErrNotFound):
			// Released while this GET runs: its bytes stay on the
			// offer of the garbage record for the grace period.
			o.offers[i] = v.garbageOffer(tx, bl.Name)
		case err != nil:
			return err
		default:
			o.offers[i] = v.offerName(string(val))
		}
	}
	return nil
}

// garbageOffer returns the offer of a released blob, or the default offer.
func (v *Vault) garbageOffer(tx meta.Tx, blob string) string {
	pre := kGarbageOf(blob)
	offer := v.defaultOffer
	tx.Scan(pre, meta.PrefixEnd(pre), func(k, _ []byte) (bool, error) {
		_, offer = parseGarbageKey(k)
		offer = v.offerName(offer)
		return false, nil
	})
	return offer
}

// kGarbage journals a blob of an offer as garbage. Records written before
// offers were recorded have no offer part: they are on the default offer.
func kGarbage(blob, offer string) []byte { return []byte(pGarbage + blob + "\x00" + offer) }
func kGarbageOf(blob string) []byte      { return []byte(pGarbage + blob) }

// parseGarbageKey splits g/<blob>\x00<offer>.
func parseGarbageKey(k []byte) (blob, offer string) {
	k = k[len(pGarbage):]
	if i := bytes.IndexByte(k, 0); i >= 0 {
		return string(k[:i]), string(k[i+1:])
	}
	return string(k), ""
}

// referencedOn reports whether a blob found on an offer is referenced there
// or journalled as its garbage.
func (v *Vault) referencedOn(tx meta.Tx, blob, offer string) (bool, error) {
	val, err := tx.Get(kRef(blob))
	if err == nil && v.offerName(string(val)) == offer {
		return true, nil
	} else if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return false, err
	}
	found := false
	pre := kGarbageOf(blob)
	err = tx.Scan(pre, meta.PrefixEnd(pre), func(k, _ []byte) (bool, error) {
		if name, o := parseGarbageKey(k); name == blob && v.offerName(o) == offer {
			found = true
			return false, nil
		}
		return true, nil
	})
	return found, err
}
