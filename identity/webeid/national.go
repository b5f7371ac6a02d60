package webeid

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
)

// oidSerialNumber is the X.520 serialNumber attribute of a subject name
// (not the certificate's serial number).
var oidSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}

// maxNationalNumber bounds the identifier part.
const maxNationalNumber = 64

// NationalNumber returns the holder's country and national number from a
// card certificate's subject serialNumber attribute, in the natural
// person form of ETSI EN 319 412-1 section 5.1.3: "PNO" (national personal
// number), the two-letter ISO 3166 country code, "-", the number
// ("PNOMC-1234567890" gives "MC", "1234567890"). The country comes with the
// number because a number alone is unique only within its country: with
// roots of several countries trusted, PNOMC-1 and PNOFR-1 are two people.
//
// Any other form is an ErrSubject error: another identity type (passport
// "PAS", identity card "IDC"), a lower-case or missing country, no
// serialNumber, or more than one. The number must be letters, digits and
// inner hyphens (Latvian numbers have one), at most 64 characters, so that
// it is safe as a key and in logs. The certificate should have passed
// Validate first: this reads the subject, it does not check it.
func NationalNumber(cert *x509.Certificate) (country, number string, err error) {
	if cert == nil {
		return "", "", fmt.Errorf("webeid: no certificate: %w", ErrSubject)
	}
	var values []string
	for _, atv := range cert.Subject.Names {
		if !atv.Type.Equal(oidSerialNumber) {
			continue
		}
		s, ok := atv.Value.(string)
		if !ok {
			return "", "", fmt.Errorf("webeid: certificate %s has a serialNumber that is not a string: %w", describe(cert), ErrSubject)
		}
		values = append(values, s)
	}
	switch len(values) {
	case 0:
		return "", "", fmt.Errorf("webeid: certificate %s has no serialNumber in its subject: %w", describe(cert), ErrSubject)
	case 1:
	default:
		return "", "", fmt.Errorf("webeid: certificate %s has %d serialNumber attributes in its subject, want one: %w", describe(cert), len(values), ErrSubject)
	}
	country, number, ok := parsePNO(values[0])
	if !ok {
		return "", "", fmt.Errorf("webeid: certificate %s subject serialNumber (starting %.6q) is not PNO<country>-<number>: %w", describe(cert), values[0], ErrSubject)
	}
	return country, number, nil
}

func parsePNO(s string) (country, number string, ok bool) {
	if len(s) < 7 || s[:3] != "PNO" || s[5] != '-' || !isUpper(s[3]) || !isUpper(s[4]) {
		return "", "", false
	}
	number = s[6:]
	if len(number) > maxNationalNumber || number[0] == '-' || number[len(number)-1] == '-' {
		return "", "", false
	}
	for i := 0; i < len(number); i++ {
		c := number[i]
		if !isUpper(c) && !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '-' {
			return "", "", false
		}
	}
	return s[3:5], number, true
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
