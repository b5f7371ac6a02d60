package vault

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffre-cloud/coffre/meta"
	"github.com/coffre-cloud/coffre/policy"
)

// Placer decides which offer holds a tenant's bucket of a sensitivity: the
// offer the tenant asks for (offer not empty) when the rules allow it, or
// the one the rules prefer. The error is policy's (policy.ErrRefused), and
// the Decision explains it. config.Config provides one per site.
type Placer interface {
	Place(tenant string, s policy.Sensitivity, offer string) (policy.Decision, error)
}

// Placement is what a client asks for when it creates a bucket.
type Placement struct {
	Sensitivity policy.Sensitivity // the zero value is high
	Offer       string             // "": let the rules choose
}

// ParseLocation reads an S3 LocationConstraint as Coffre understands it: a
// sensitivity ("high", "medium", "low"), an offer name, or
// "SENSITIVITY:OFFER". ok is false when s is none of these forms (a region
// name, for instance); offers are the site's offer names.
func ParseLocation(s string, offers []string) (p Placement, ok bool) {
	sens, offer, both := strings.Cut(s, ":")
	if !both {
		if v, err := policy.ParseSensitivity(s); err == nil && s != "" {
			return Placement{Sensitivity: v}, true
		}
		sens, offer = "", s
	}
	v, err := policy.ParseSensitivity(sens)
	if err != nil || (both && sens == "") {
		return Placement{}, false
	}
	for _, o := range offers {
		if o == offer {
			return Placement{Sensitivity: v, Offer: offer}, true
		}
	}
	return Placement{}, false
}

// Migration is a bucket's move to another offer, so that its placement
// obeys a new sensitivity. The bucket's Offer is already the destination:
// new bytes go there while the migrator moves the old ones.
type Migration struct {
	From        string             `json:"from"`
	To          policy.Sensitivity `json:"to"` // takes effect when the move ends
	Started     time.Time          `json:"started"`
	Blobs       int64              `json:"blobs"` // on From when it started
	Bytes       int64              `json:"bytes"`
	MovedBlobs  int64              `json:"moved_blobs,omitempty"`
	MovedBytes  int64              `json:"moved_bytes,omitempty"`
	LastError   string             `json:"error,omitempty"`
	LastAttempt time.Time          `json:"attempt,omitzero"`
}

// refusal turns a refusal of the rules into ErrPlacementRefused, with a
// message naming each rule and offer: "rule tier: offer x is tier
// external; bucket sensitivity high requires internal".
func refusal(err error) error {
	var ref *policy.Refusal
	var pe *policy.PlacementError
	switch {
	case errors.As(err, &ref):
		return fail("%w: rule %s: %s", ErrPlacementRefused, ref.Rule, ref.Error())
	case errors.As(err, &pe):
		parts := make([]string, len(pe.Rejected))
		for i := range pe.Rejected {
			parts[i] = fmt.Sprintf("rule %s: %s", pe.Rejected[i].Rule, pe.Rejected[i].Error())
		}
		if len(parts) == 0 {
			parts = []string{"there is no offer to choose from"}
		}
		return fail("%w: no offer allowed for bucket sensitivity %s: %s", ErrPlacementRefused, pe.Sensitivity, strings.Join(parts, "; "))
	}
	return err
}

// place decides the offer of a new bucket.
func (v *Vault) place(tenant string, pl Placement) (string, error) {
	if !pl.Sensitivity.Valid() {
		return "", fmt.Errorf("%w: %v is not a sensitivity", ErrInvalidArgument, pl.Sensitivity)
	}
	if pl.Offer != "" && v.offers[pl.Offer] == nil {
		return "", fmt.Errorf("%w: %s is neither a sensitivity (high, medium, low) nor an offer of this site (%s)", ErrInvalidLocation, pl.Offer, strings.Join(v.Offers(), ", "))
	}
	if v.placer == nil {
		return v.offerName(pl.Offer), nil
	}
	d, err := v.placer.Place(tenant, pl.Sensitivity, pl.Offer)
	if err != nil {
		return "", refusal(err)
	}
	if v.offers[d.Chosen.Name] == nil {
		return "", fmt.Errorf("%w: offer %s is chosen but not configured at this site", ErrBackendUnavailable, d.Chosen.Name)
	}
	return d.Chosen.Name, nil
}

// checkOffer refuses to commit a blob written to an offer the bucket has
// left since (its placement changed while the bytes were uploaded). While
// a migration from that offer runs, the migrator moves the blob too.
func (v *Vault) checkOffer(b Bucket, bl Blob) error {
	offer := v.offerName(bl.offer)
	if offer == v.offerName(b.Offer) || b.Migration != nil && v.offerName(b.Migration.From) == offer {
		return nil
	}
	return fail("%w: bucket %s moved to another offer while this request ran; retry it", ErrBackendUnavailable, b.Name)
}

// The bucket tags that change a bucket's placement (PutBucketTagging).
const (
	TagSensitivity   = "coffre:sensitivity"
	TagAllowLowering = "coffre:allow-lowering"
)

// changeSensitivity applies a new sensitivity to b (in an update): at once
// when its offer allows it, otherwise by starting a migration to the offer
// the rules choose. Lowering needs allowLowering.
func (v *Vault) changeSensitivity(tx meta.Tx, b *Bucket, to policy.Sensitivity, allowLowering bool) error {
	if b.Migration != nil {
		if b.Migration.To == to {
			return nil
		}
		return fail("%w: bucket %s is moving from offer %s to %s for sensitivity %s; change it again when that ends", ErrMigrating, b.Name, v.offerName(b.Migration.From), v.offerName(b.Offer), b.Migration.To)
	}
	if err := policy.CanChange(b.Sensitivity, to, allowLowering); err != nil {
		var ref *policy.Refusal
		if errors.As(err, &ref) && ref.Rule == policy.RuleLowering {
			ref.Reason += "; to lower it anyway, add the tag " + TagAllowLowering + "=true"
		}
		return refusal(err)
	}
	if to == b.Sensitivity || v.placer == nil {
		b.Sensitivity = to
		return nil
	}
	cur := v.offerName(b.Offer)
	d, err := v.placer.Place(b.Tenant, to, "")
	for _, o := range d.Allowed {
		if o.Name == cur {
			b.Sensitivity = to
			return nil
		}
	}
	if err != nil {
		return refusal(err)
	}
	if v.offers[d.Chosen.Name] == nil {
		return fail("%w: offer %s is chosen but not configured at this site", ErrBackendUnavailable, d.Chosen.Name)
	}
	m := &Migration{From: cur, To: to, Started: v.now().UTC()}
	pre := kOfferBlobs(cur, b.ID)
	err = tx.Scan(pre, meta.PrefixEnd(pre), func(_, val []byte) (bool, error) {
		m.Blobs++
		if len(val) == 8 {
			m.Bytes += int64(binary.BigEndian.Uint64(val))
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	b.Offer, b.Migration = d.Chosen.Name, m
	return tx.Put(kMigrating(b.Name), nil)
}

// migrationStarted logs a migration that a committed change started, and
// wakes the migrator.
func (v *Vault) migrationStarted(b Bucket) {
	m := b.Migration
	v.log.Info("bucket migration started", "event", "placement.migration.start", "tenant", b.Tenant, "bucket", b.Name,
		"from", m.From, "to", b.Offer, "sensitivity", m.To, "blobs", m.Blobs, "bytes", m.Bytes)
	v.wakeMigrator()
}

// SetSensitivity changes a bucket's sensitivity (coffre bucket
// sensitivity, and the coffre:sensitivity tag). It returns the bucket as
// the change left it: with a Migration when its data must move first.
func (v *Vault) SetSensitivity(ctx context.Context, p Principal, name string, to policy.Sensitivity, allowLowering bool) (Bucket, error) {
	var out Bucket
	started := false
	err := v.updateBucket(ctx, p, name, func(tx meta.Tx, b *Bucket) error {
		was := b.Migration
		if err := v.changeSensitivity(tx, b, to, allowLowering); err != nil {
			return err
		}
		out, started = *b, was == nil && b.Migration != nil
		return nil
	})
	if err == nil && started {
		v.migrationStarted(out)
	}
	return out, err
}

// BucketInfo returns a bucket's record for operator tools (coffre
// placement explain), whoever owns it.
func (v *Vault) BucketInfo(ctx context.Context, name string) (Bucket, error) {
	var b Bucket
	err := v.view(ctx, func(tx meta.Tx) error {
		err := getRecord(tx, kBucket(name), &b)
		if errors.Is(err, meta.ErrNotFound) {
			return fail("%w: %s", ErrNoSuchBucket, name)
		}
		return err
	})
	return b, err
}
