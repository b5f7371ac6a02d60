package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one mistake in a configuration: where it is, which field, what
// is wrong and how to fix it. Line and Column are 1-based, and 0 when the
// configuration was not read from a file.
type Error struct {
	Line, Column int
	// Field is the path of the field, e.g. "offers[2].tier" (indexes
	// count from 0).
	Field   string
	Message string
	// Fix says what to write instead; it may be empty.
	Fix string
}

// Error returns e.g. `offers[2].tier: "extrnal" is not a tier (line 14);
// use internal, dedicated or external`.
func (e Error) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	if e.Fix != "" {
		b.WriteString("; " + e.Fix)
	}
	return b.String()
}

// Located returns the error as a compiler would print it:
// "FILE:LINE:COL: field: message (fix: ...)".
func (e Error) Located(file string) string {
	var b strings.Builder
	b.WriteString(file)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	if e.Fix != "" {
		b.WriteString(" (fix: " + e.Fix + ")")
	}
	return b.String()
}

// ErrorList is the error of Parse and Load: every mistake of a file,
// sorted by line.
type ErrorList struct {
	File   string
	Errors []Error
}

// Error returns one located error per line.
func (l *ErrorList) Error() string {
	lines := make([]string, len(l.Errors))
	for i, e := range l.Errors {
		lines[i] = e.Located(l.File)
	}
	return strings.Join(lines, "\n")
}

// sortErrors orders errors by position, keeping the order of those at the
// same place (errors without a position, line 0, come first).
func sortErrors(errs []Error) {
	slices.SortStableFunc(errs, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}

// suggest returns the candidate closest to word when it is close enough
// to be a likely typo: the same once case, '-' and '_' are ignored, or
// within an edit distance of about a third of its length.
func suggest(word string, candidates []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
	}
	best, bestD := "", 0
	for _, c := range candidates {
		if c == word {
			continue
		}
		if norm(c) == norm(word) {
			return c
		}
		d := editDistance(strings.ToLower(word), c)
		if limit := max(1, min(3, len(c)/3)); d <= limit && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b,
// in bytes: insertions, deletions, substitutions and transpositions of two
// neighbours ("swfit" is one edit from "swift").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
