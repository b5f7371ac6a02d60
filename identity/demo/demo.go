// Package demo is what `coffre serve` adds to its embedded default so that a
// newcomer can log in at each assurance level in a browser (the README
// tour): a small population register of fictitious residents with known
// passwords and TOTP secrets, and a demo service (a relying party of the
// provider, identity/rp) whose pages show what a service receives.
//
// For the eidas3 level, demo ID cards (card.go): a demo national PKI whose
// keys are in the site's key store, one card per demo resident registered
// in the register, a CRL, and a demo card reader (cardreader.go,
// cardreader.js) that stands in for the Web eID extension on the
// provider's login page and signs with the cards' keys once their PIN
// (CardPIN) is typed. They are a stand-in for real cards and readers, for
// the demo only.
//
// None of it exists outside the embedded default (or --identity-demo on):
// `coffre serve --config` starts with an empty register, no demo card and
// no demo card reader.
package demo

import (
	"context"
	"encoding/base32"
	"fmt"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/password"
)

// Resident is a demo resident and its secrets, which the README prints.
type Resident struct {
	identity.Resident
	Password string
	// TOTP is the base32 secret to put in an authenticator app (or give to
	// `coffre identity totp-code`); empty: none.
	TOTP string
}

// Residents are the demo register. The names are fictitious.
var Residents = []Resident{
	{
		Resident: identity.Resident{NationalNumber: "1000000001", GivenName: "Louise Marie", FamilyName: "Gastaud",
			Birthdate: "1990-04-12", Gender: "female", Birthplace: "Monaco", Birthcountry: "MC", Email: "louise.gastaud@example.mc", Phone: "+37799000001"},
		Password: "Louise-demo-2026", TOTP: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
	},
	{
		Resident: identity.Resident{NationalNumber: "1000000002", GivenName: "Jean-Pierre", FamilyName: "Rossi",
			Birthdate: "1975-11-03", Gender: "male", Birthplace: "Nice", Birthcountry: "FR"},
		Password: "Rossi-demo-2026!",
	},
	{
		Resident: identity.Resident{NationalNumber: "1000000003", GivenName: "Amélie", FamilyName: "Notari",
			Birthdate: "2001-07-30", Gender: "female", Birthplace: "Monaco", Birthcountry: "MC", Email: "amelie.notari@example.mc"},
		Password: "Notari-demo-2026", TOTP: "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU",
	},
}

// Seed puts the demo residents in an empty register, and returns how many
// it added (0 when the register already has residents: the demo never
// overwrites a real one).
func Seed(ctx context.Context, reg *identity.Register, params password.Params) (int, error) {
	n, err := reg.CountResidents(ctx)
	if err != nil || n > 0 {
		return 0, err
	}
	for _, d := range Residents {
		r := d.Resident
		if r.PasswordHash, err = password.Hash(d.Password, params); err != nil {
			return 0, err
		}
		if d.TOTP != "" {
			if r.TOTPSecret, err = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(d.TOTP); err != nil {
				return 0, fmt.Errorf("demo resident %s: TOTP secret: %w", r.NationalNumber, err)
			}
		}
		if _, err := reg.PutResident(ctx, &r); err != nil {
			return 0, err
		}
	}
	return len(Residents), nil
}
