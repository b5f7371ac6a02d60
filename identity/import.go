package identity

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
)

// RegisterColumns are the columns of the population register's CSV, in any
// order after a header row; national_number, given_name, family_name,
// birthdate and gender are required, the others may be empty.
// card_certificates holds the residents' card authentication certificates,
// each base64 DER or PEM, several separated by spaces.
var RegisterColumns = []string{"national_number", "given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry", "email", "phone_number", "card_certificates"}

// ImportStats says what an import did.
type ImportStats struct {
	Added, Updated int
}

// maxImportErrors bounds the errors an import reports before it stops.
const maxImportErrors = 20

// ImportCSV reads a population register in CSV (RFC 4180, UTF-8, header
// row) and creates or updates its residents. Every row is checked before
// anything is written: a file with an error changes nothing, and the error
// names each bad line (up to 20). Residents keep the secrets they already
// had (password, TOTP, passkeys); a card no longer listed is revoked.
func ImportCSV(ctx context.Context, reg *Register, r io.Reader) (ImportStats, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return ImportStats{}, fmt.Errorf("%w: register CSV: no header row: %v", ErrInvalid, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		col[h] = i
	}
	for _, req := range RegisterColumns[:5] {
		if _, ok := col[req]; !ok {
			return ImportStats{}, fmt.Errorf("%w: register CSV: column %s is missing (columns: %s)", ErrInvalid, req, strings.Join(RegisterColumns, ","))
		}
	}
	var rows []*Resident
	var errs []error
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %v", line, err))
			break
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		res := &Resident{
			NationalNumber: get("national_number"), GivenName: get("given_name"), FamilyName: get("family_name"),
			Birthdate: get("birthdate"), Gender: get("gender"), Birthplace: get("birthplace"), Birthcountry: get("birthcountry"),
			Email: get("email"), Phone: get("phone_number"),
		}
		if err := res.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %v", line, err))
		} else if prev, dup := seen[res.NationalNumber]; dup {
			errs = append(errs, fmt.Errorf("line %d: national number %s already on line %d", line, res.NationalNumber, prev))
		}
		seen[res.NationalNumber] = line
		ders, err := parseCertificates(get("card_certificates"))
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: card certificate: %v", line, err))
		}
		for _, der := range ders {
			res.Cards = append(res.Cards, Card{Certificate: der})
		}
		rows = append(rows, res)
		if len(errs) >= maxImportErrors {
			break
		}
	}
	if len(errs) > 0 {
		return ImportStats{}, fmt.Errorf("%w: register CSV: nothing imported:\n%w", ErrInvalid, errors.Join(errs...))
	}
	var st ImportStats
	for _, res := range rows {
		created, err := reg.PutResident(ctx, res)
		if err != nil {
			return st, fmt.Errorf("resident %d of %d: %w", st.Added+st.Updated+1, len(rows), err)
		}
		if created {
			st.Added++
		} else {
			st.Updated++
		}
	}
	return st, nil
}

// parseCertificates reads a field of certificates: PEM blocks, or base64
// DER separated by spaces.
func parseCertificates(field string) ([][]byte, error) {
	var ders [][]byte
	if strings.Contains(field, "-----BEGIN") {
		rest := []byte(field)
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				return nil, fmt.Errorf("a PEM block of type %s, want CERTIFICATE", block.Type)
			}
			ders = append(ders, block.Bytes)
		}
		if len(ders) == 0 {
			return nil, errors.New("malformed PEM")
		}
	} else {
		for _, c := range strings.Fields(field) {
			der, err := base64.StdEncoding.DecodeString(c)
			if err != nil {
				return nil, errors.New("neither base64 DER nor PEM")
			}
			ders = append(ders, der)
		}
	}
	for _, der := range ders {
		if _, err := x509.ParseCertificate(der); err != nil {
			return nil, err
		}
	}
	return ders, nil
}
