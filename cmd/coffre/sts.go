package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffre-cloud/coffre/identity/sts"
	"github.com/coffre-cloud/coffre/s3api"
)

// webIdentity lets s3api's STS endpoint use the identity provider's checks
// (identity/sts): the two packages never import each other, so this adapter
// translates the grant and the kinds of refusal.
type webIdentity struct{ x *sts.Exchanger }

// newWebIdentity returns the STS checks of a running provider.
func newWebIdentity(ids *identityServer) webIdentity {
	return webIdentity{sts.New(sts.Config{Verifier: ids.prov, Register: ids.reg, Issuer: ids.issuer})}
}

var stsKinds = []struct{ from, to error }{
	{sts.ErrInvalidToken, s3api.ErrInvalidIdentityToken},
	{sts.ErrExpiredToken, s3api.ErrExpiredIdentityToken},
	{sts.ErrRejectedClaim, s3api.ErrIdentityClaimRejected},
	{sts.ErrDenied, s3api.ErrRoleNotAllowed},
	{sts.ErrUnavailable, s3api.ErrIdentityUnavailable},
}

func (w webIdentity) AssumeRole(ctx context.Context, token, tenant, role string) (s3api.WebIdentityGrant, error) {
	g, err := w.x.AssumeRole(ctx, token, tenant, role)
	out := s3api.WebIdentityGrant{Subject: g.Subject, Audience: g.Client, Provider: g.Issuer, Ref: g.Ref}
	var r *sts.Refusal
	if errors.As(err, &r) {
		for _, k := range stsKinds {
			if errors.Is(r.Kind, k.from) {
				return out, fmt.Errorf("%w: %s", k.to, r.Reason)
			}
		}
	}
	return out, err
}
