package password

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	ctx := []string{"jean.dupont@example.fr", "Jean", "Dupont", "jdupont"}
	for _, c := range []struct {
		pw   string
		want error
	}{
		// Accepted: long enough, unpredictable; no composition rule.
		{"cheval agrafe pile correcte", nil},
		{"tournesol vert du jardin", nil},
		{"h7#Kq2!vZp9@", nil},
		{"kjd83hf92kdl", nil},
		{"Élégance123!", nil},
		{"彼は日本語を話すのが上手です", nil},
		{"Dupont aime les tartes aux pommes", nil}, // a context word among many others
		// Length.
		{"", ErrTooShort},
		{"court", ErrTooShort},
		{"onze carac.", ErrTooShort},
		{strings.Repeat("x7", MaxLength/2+1), ErrTooLong},
		// Characters.
		{"\xffnot utf-8 at all", ErrCharacters},
		{"douze caract\n", ErrCharacters},
		{"tab\there and there", ErrCharacters},
		// Predictable.
		{"aaaaaaaaaaaa", ErrCommon},
		{"abababababab", ErrCommon},
		{"123123123123", ErrCommon},
		{"abcdefghijklmn", ErrCommon},
		{"123456789012", ErrCommon},
		{"0987654321098", ErrCommon},
		{"azertyuiopqsd", ErrCommon},
		{"AZERTYUIOPQSDF", ErrCommon},
		{"qwertyuiopasdf", ErrCommon},
		{"mlkjhgfdsqpoiu", ErrCommon},
		{"Motdepasse2024!", ErrCommon},
		{"P@ssw0rd2024!", ErrCommon},
		{"m0td3p4ss3!!!!", ErrCommon},
		{"2024!Soleil!!!", ErrCommon},
		{"SoleilSoleil12", ErrCommon},
		{"iloveyou123456", ErrCommon},
		{"Chocolat noir", ErrCommon},
		{"Coffre2024!!!!", ErrCommon},
		// Personal.
		{"jean.dupont1984", ErrPersonal},
		{"JeanDupont!!!!", ErrPersonal},
		{"jdupont2024!!!", ErrPersonal},
		{"dupontdupont", ErrPersonal},
	} {
		t.Run("pw="+c.pw[:min(len(c.pw), 20)], func(t *testing.T) {
			err := Check(c.pw, ctx...)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Check(%q) = %v, want %v", c.pw, err, c.want)
			}
		})
	}
}

// TestCheckLengthCountsCharacters: 12 characters, not 12 bytes, after
// NFKC ("e" + combining accent is one character).
func TestCheckLengthCountsCharacters(t *testing.T) {
	if err := Check("éèàùçôéèàùçÔ"); err != nil { // 12 characters, 24 bytes
		t.Errorf("Check(12 accented letters) = %v", err)
	}
	if err := Check("e\u0301e\u0300a\u0300u\u0300c\u0327o\u0302e\u0301"); !errors.Is(err, ErrTooShort) { // 7 after NFKC, 14 code points before
		t.Errorf("Check(7 decomposed letters) = %v, want ErrTooShort", err)
	}
}
