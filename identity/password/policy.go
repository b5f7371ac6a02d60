package password

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Check applies the minimum policy to a new password, in the spirit of
// NIST SP 800-63B: length, not composition rules (which push users to
// "Motdepasse1!") nor expiry, and a refusal of what an attacker tries
// first. A password passes when it
//
//   - is valid UTF-8 without control characters (ErrCharacters),
//   - is at most MaxLength bytes (ErrTooLong),
//   - has at least MinLength characters after NFKC (ErrTooShort): 12, above
//     the 8 that 800-63B-4 asks of a password used with another factor,
//     since a short password is what an offline attack on a stolen hash
//     database finds first,
//   - is not predictable (ErrCommon): at least 5 distinct characters, not a
//     run of the alphabet, of digits or of an AZERTY, QWERTY or QWERTZ row,
//     and not a block-listed word, repeated or with fewer than 6 other
//     characters, once "leet" digits and symbols are read as letters and
//     the others dropped ("P@ssw0rd2024!" is "password"),
//   - is not mostly made of one of the personal words (ErrPersonal): pass
//     the account's identifier, e-mail address, names; words shorter than
//     4 characters are ignored, and an e-mail address counts as its local
//     part too.
//
// The block list is short and built in: it catches the obvious, it does not
// replace a breach corpus (which the caller may check in addition).
func Check(pw string, personal ...string) error {
	if err := checkInput(pw); err != nil {
		return err
	}
	for _, r := range pw {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: control character %U", ErrCharacters, r)
		}
	}
	n := norm.NFKC.String(pw)
	if c := utf8.RuneCountInString(n); c < MinLength {
		return fmt.Errorf("%w: %d characters, at least %d", ErrTooShort, c, MinLength)
	}
	low := strings.ToLower(n)
	if distinct(low) < 5 {
		return fmt.Errorf("%w: fewer than 5 distinct characters", ErrCommon)
	}
	for _, run := range runs {
		if strings.Contains(run, low) || strings.Contains(reverse(run), low) {
			return fmt.Errorf("%w: a run of keys or of the alphabet", ErrCommon)
		}
	}
	if isBlocked(low) {
		return fmt.Errorf("%w: a common password", ErrCommon)
	}
	for _, w := range contextWords(personal) {
		if rest := strings.ReplaceAll(low, w, ""); utf8.RuneCountInString(rest) < MinLength/2 {
			return ErrPersonal
		}
		for _, f := range forms(low) {
			if lw := letters(w); lw != "" && period(f) == lw {
				return ErrPersonal
			}
		}
	}
	return nil
}

func distinct(s string) int {
	seen := make(map[rune]bool)
	for _, r := range s {
		seen[r] = true
	}
	return len(seen)
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// runs are the sequences whose stretches users pick: checked forwards and
// backwards, so that "lkjhgfdsqpoiuytreza" is caught too.
var runs = []string{
	"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
	"012345678901234567890123456789",
	"azertyuiopqsdfghjklmwxcvbnazertyuiopqsdfghjklmwxcvbn",
	"qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvbnm",
	"qwertzuiopasdfghjklyxcvbnmqwertzuiopasdfghjklyxcvbnm",
	"&é\"'(-è_çà)=&é\"'(-è_çà)=", // the AZERTY digit row, unshifted
	"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
	"1aqw2zsx3edc4rfv5tgb6yhn7ujn8ik9ol0p",
}

// deleet reads the usual digit and symbol substitutions as letters and
// drops every other non-letter.
func deleet(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '0':
			r = 'o'
		case '1', '!', '|':
			r = 'i'
		case '3', '€':
			r = 'e'
		case '4', '@':
			r = 'a'
		case '5', '$':
			r = 's'
		case '7', '+':
			r = 't'
		case '8':
			r = 'b'
		case '9':
			r = 'g'
		}
		if unicode.IsLetter(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isBlocked reports whether a lower-case password, read in any of its
// forms, is a block-listed word or that word repeated, or holds a
// block-listed word with fewer than MinLength/2 other characters around it
// ("m0td3p4ss3!!!!").
func isBlocked(low string) bool {
	n := utf8.RuneCountInString(low)
	for _, f := range forms(low) {
		if f == "" {
			continue
		}
		if blocked[period(f)] {
			return true
		}
		for w := range blocked {
			if n-utf8.RuneCountInString(w) < MinLength/2 && strings.Contains(f, w) {
				return true
			}
		}
	}
	return false
}

// forms returns the ways a password may hide a word: its letters alone
// ("soleil!2024" is "soleil"), its leet reading ("m0td3p4ss3" is
// "motdepasse"), and the leet reading of what is left once the digits and
// symbols around it are trimmed ("p@ssw0rd2024!" is "password"; a leet
// reading of the whole would give "passwordoa").
func forms(low string) [3]string {
	notLetter := func(r rune) bool { return !unicode.IsLetter(r) }
	return [3]string{letters(low), deleet(low), deleet(strings.TrimFunc(low, notLetter))}
}

func letters(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) {
			return r
		}
		return -1
	}, s)
}

// period returns the shortest prefix of s that s is a repetition of.
func period(s string) string {
	for p := 1; p <= len(s)/2; p++ {
		if len(s)%p == 0 && strings.Repeat(s[:p], len(s)/p) == s {
			return s[:p]
		}
	}
	return s
}

func contextWords(words []string) []string {
	var out []string
	add := func(w string) {
		w = strings.ToLower(norm.NFKC.String(strings.TrimSpace(w)))
		if utf8.RuneCountInString(w) >= 4 {
			out = append(out, w)
		}
	}
	for _, w := range words {
		add(w)
		if local, _, ok := strings.Cut(w, "@"); ok {
			add(local)
		}
		for _, part := range strings.FieldsFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			add(part)
		}
	}
	return out
}
