package policy

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// DefaultTwinMinDistanceKm is the doctrine's distance between a site and its
// twin: the recommended norm of 120 km between two storage locations, so
// that one earthquake, flood or power failure cannot take both.
const DefaultTwinMinDistanceKm = 120.0

// Rules are the doctrine as one sovereign applies it. The zero value of
// every field but Sovereign means the doctrine's default.
type Rules struct {
	// Sovereign is the ISO 3166 alpha-2 code of the State whose law must
	// apply to high data.
	Sovereign string
	// MediumJurisdictions are the jurisdictions besides the sovereign's
	// that may hold medium data.
	MediumJurisdictions []string
	// LowJurisdictions, when not empty, restricts low data to the
	// sovereign's jurisdiction, MediumJurisdictions and these. Empty means
	// any jurisdiction.
	LowJurisdictions []string
	// TwinMinDistanceKm is the least great-circle distance between a site
	// and its twin: 0 means DefaultTwinMinDistanceKm, and less than that
	// is a relaxation.
	TwinMinDistanceKm float64
	// TwinRequired overrides whether a sensitivity needs a twin site. The
	// doctrine requires one for high and medium and not for low; high
	// cannot be relaxed, medium may be (the doctrine says "by default").
	TwinRequired map[Sensitivity]bool
	// Tiers restricts the tiers a sensitivity may use to a subset of the
	// doctrine's.
	Tiers map[Sensitivity][]Tier
	// RequiredCertifications lists certifications an offer of a tier must
	// hold to be allowed at all (e.g. SecNumCloud for dedicated offers).
	RequiredCertifications map[Tier][]string
}

// DoctrineTiers returns the tiers the doctrine allows for a sensitivity,
// the most protective first.
func DoctrineTiers(s Sensitivity) []Tier {
	switch s {
	case High:
		return []Tier{Internal}
	case Medium:
		return []Tier{Internal, Dedicated}
	case Low:
		return []Tier{Internal, Dedicated, External}
	}
	return nil
}

// DoctrineTwinRequired reports whether the doctrine requires a twin site
// for a sensitivity when Rules do not say otherwise.
func DoctrineTwinRequired(s Sensitivity) bool { return s != Low }

// RuleError reports a setting of Rules that the doctrine does not allow.
// Setting is the setting's name as coffre.yaml spells it; Key, when not
// empty, the sensitivity, tier or code within it.
type RuleError struct {
	Setting string
	Key     string
	Reason  string
}

func (e *RuleError) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("rules %s %s: %s", e.Setting, e.Key, e.Reason)
	}
	return fmt.Sprintf("rules %s: %s", e.Setting, e.Reason)
}

// Check returns every setting of r that is invalid or that would relax the
// doctrine, in a fixed order. Rules that pass Check are applied as written;
// the other functions of this package ignore relaxations in any case.
func (r Rules) Check() []*RuleError {
	var errs []*RuleError
	add := func(setting, key, format string, args ...any) {
		errs = append(errs, &RuleError{Setting: setting, Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	switch {
	case r.Sovereign == "":
		add("sovereign", "", "no sovereign jurisdiction: high data could go nowhere")
	case !ValidJurisdiction(r.Sovereign):
		add("sovereign", "", "%q is not an ISO 3166 alpha-2 country code", r.Sovereign)
	}
	for _, set := range []struct {
		name  string
		codes []string
	}{{"medium_jurisdictions", r.MediumJurisdictions}, {"low_jurisdictions", r.LowJurisdictions}} {
		for _, c := range set.codes {
			if !ValidJurisdiction(c) {
				add(set.name, c, "%q is not an ISO 3166 alpha-2 country code", c)
			}
		}
	}
	d := r.TwinMinDistanceKm
	switch {
	case math.IsNaN(d) || math.IsInf(d, 0) || d < 0:
		add("twin_min_distance_km", "", "%v is not a distance in km", d)
	case d != 0 && d < DefaultTwinMinDistanceKm:
		add("twin_min_distance_km", "", "%g km would relax the doctrine's %g km between twin sites; rules may only be made stricter", d, DefaultTwinMinDistanceKm)
	}
	for _, s := range sortedKeys(r.TwinRequired) {
		switch {
		case !s.Valid():
			add("twin_required", s.String(), "not a sensitivity")
		case s == High && !r.TwinRequired[s]:
			add("twin_required", s.String(), "high data always needs a twin site; rules may only be made stricter")
		}
	}
	for _, s := range sortedKeys(r.Tiers) {
		if !s.Valid() {
			add("tiers", s.String(), "not a sensitivity")
			continue
		}
		tiers := r.Tiers[s]
		if len(tiers) == 0 {
			add("tiers", s.String(), "allows no tier: no %s bucket could be placed", s)
		}
		for _, t := range tiers {
			switch {
			case !t.Valid():
				add("tiers", s.String(), "%v is not a tier", t)
			case !slices.Contains(DoctrineTiers(s), t):
				add("tiers", s.String(), "tier %s would relax the doctrine, which allows %s for %s data; rules may only be made stricter", t, orList(tierStrings(DoctrineTiers(s))), s)
			}
		}
	}
	for _, t := range sortedKeys(r.RequiredCertifications) {
		if !t.Valid() {
			add("required_certifications", t.String(), "not a tier")
		}
		for _, c := range r.RequiredCertifications[t] {
			if strings.TrimSpace(c) == "" {
				add("required_certifications", t.String(), "an empty certification name")
			}
		}
	}
	return errs
}

// TiersFor returns the tiers allowed for a sensitivity under r, the most
// protective first: the doctrine's, restricted by r.Tiers. A relaxation in
// r.Tiers is ignored.
func (r Rules) TiersFor(s Sensitivity) []Tier {
	tiers := DoctrineTiers(s)
	if o, ok := r.Tiers[s]; ok {
		tiers = slices.DeleteFunc(slices.Clone(tiers), func(t Tier) bool { return !slices.Contains(o, t) })
	}
	return tiers
}

// TwinRequiredFor reports whether a sensitivity needs a twin site under r.
func (r Rules) TwinRequiredFor(s Sensitivity) bool {
	if s == High {
		return true
	}
	if v, ok := r.TwinRequired[s]; ok {
		return v
	}
	return DoctrineTwinRequired(s)
}

// TwinMinDistance returns the least distance in km between twin sites:
// r.TwinMinDistanceKm, or the doctrine's when that is unset or smaller.
func (r Rules) TwinMinDistance() float64 {
	if d := r.TwinMinDistanceKm; d > DefaultTwinMinDistanceKm && !math.IsInf(d, 0) {
		return d
	}
	return DefaultTwinMinDistanceKm
}

// Jurisdictions returns the jurisdictions allowed for a sensitivity, the
// sovereign's first, or nil when any is (low data with no LowJurisdictions).
func (r Rules) Jurisdictions(s Sensitivity) []string {
	list := []string{r.Sovereign}
	switch s {
	case High:
	case Medium:
		list = append(list, r.MediumJurisdictions...)
	case Low:
		if len(r.LowJurisdictions) == 0 {
			return nil
		}
		list = append(append(list, r.MediumJurisdictions...), r.LowJurisdictions...)
	default:
		return []string{}
	}
	out := []string{} // never nil: nil means any jurisdiction
	for _, c := range list {
		if c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// JurisdictionAllowed reports whether data of sensitivity s may be under
// the law of code.
func (r Rules) JurisdictionAllowed(s Sensitivity, code string) bool {
	if code == "" || !s.Valid() {
		return false
	}
	list := r.Jurisdictions(s)
	return list == nil || slices.Contains(list, code)
}

// Requirement describes in words what an offer needs to hold data of
// sensitivity s under r, e.g. "tier internal under MC jurisdiction", for
// messages that tell an operator what to add.
func (r Rules) Requirement(s Sensitivity) string {
	return fmt.Sprintf("tier %s under %s", orList(tierStrings(r.TiersFor(s))), r.jurisdictionWords(s))
}

// jurisdictionWords is "MC jurisdiction", "FR jurisdiction or one of BE, DE"
// or "any jurisdiction".
func (r Rules) jurisdictionWords(s Sensitivity) string {
	list := r.Jurisdictions(s)
	switch {
	case list == nil:
		return "any jurisdiction"
	case len(list) == 0:
		return "no jurisdiction"
	case len(list) == 1:
		return list[0] + " jurisdiction"
	}
	return fmt.Sprintf("%s jurisdiction or one of %s", list[0], strings.Join(list[1:], ", "))
}

func tierStrings(ts []Tier) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

// orList joins "a", "a or b", "a, b or c".
func orList(words []string) string {
	switch len(words) {
	case 0:
		return "none"
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func sortedKeys[K ~uint8, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
