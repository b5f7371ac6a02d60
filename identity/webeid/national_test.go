package webeid_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/identity/webeid"
)

var oidSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}

func TestNationalNumber(t *testing.T) {
	with := func(serials ...any) pkix.Name {
		n := pkix.Name{CommonName: "KELLY,GRACE,1234567890", Country: []string{"MC"}}
		for _, s := range serials {
			n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oidSerialNumber, Value: s})
		}
		return n
	}
	for _, tc := range []struct {
		name            string
		subject         pkix.Name
		country, number string // empty: ErrSubject
	}{
		{"subject=monaco", with("PNOMC-1234567890"), "MC", "1234567890"},
		{"subject=estonia", with("PNOEE-38001085718"), "EE", "38001085718"},
		{"subject=latvia-hyphen", with("PNOLV-123456-12345"), "LV", "123456-12345"},
		{"subject=letters", with("PNOBE-A1B2"), "BE", "A1B2"},
		{"subject=longest", with("PNOMC-" + strings.Repeat("1", 64)), "MC", strings.Repeat("1", 64)},
		{"subject=none", with(), "", ""},
		{"subject=two", with("PNOMC-1", "PNOMC-2"), "", ""},
		{"subject=passport", with("PASMC-1234567890"), "", ""},
		{"subject=identity-card", with("IDCMC-1234567890"), "", ""},
		{"subject=tax", with("TINMC-1234567890"), "", ""},
		{"subject=lower-country", with("PNOmc-1234567890"), "", ""},
		{"subject=no-hyphen", with("PNOMC1234567890"), "", ""},
		{"subject=empty-number", with("PNOMC-"), "", ""},
		{"subject=bare-number", with("1234567890"), "", ""},
		{"subject=space", with("PNOMC-12345 67890"), "", ""},
		{"subject=leading-hyphen", with("PNOMC--1"), "", ""},
		{"subject=trailing-hyphen", with("PNOMC-1-"), "", ""},
		{"subject=too-long", with("PNOMC-" + strings.Repeat("1", 65)), "", ""},
		{"subject=non-ascii", with("PNOMC-１２３"), "", ""},
		{"subject=three-letter-country", with("PNOMCO-1"), "", ""},
		{"subject=short", with("PNOMC"), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert := selfSigned(t, tc.subject)
			country, number, err := webeid.NationalNumber(cert)
			if tc.number == "" {
				if !errors.Is(err, webeid.ErrSubject) {
					t.Fatalf("NationalNumber = %q, %q, %v; want ErrSubject", country, number, err)
				}
				return
			}
			if err != nil || country != tc.country || number != tc.number {
				t.Fatalf("NationalNumber = %q, %q, %v; want %q, %q", country, number, err, tc.country, tc.number)
			}
		})
	}
	if _, _, err := webeid.NationalNumber(nil); !errors.Is(err, webeid.ErrSubject) {
		t.Fatalf("NationalNumber(nil) = %v, want ErrSubject", err)
	}
}
