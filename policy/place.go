package policy

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrRefused is the kind of every refusal of this package: errors.Is(err,
// ErrRefused) holds for a *Refusal and a *PlacementError.
var ErrRefused = errors.New("refused by the placement rules")

// The rules a Refusal names.
const (
	RuleSensitivity      = "sensitivity"       // not a valid sensitivity
	RuleTier             = "tier"              // the offer's tier is not allowed
	RuleCertification    = "certification"     // the offer lacks a certification its tier requires
	RuleJurisdiction     = "jurisdiction"      // the law applying to the offer is not allowed
	RuleChoice           = "choice"            // the chosen offer is not a candidate
	RuleTwin             = "twin"              // no twin site where one is required
	RuleTwinDistance     = "twin-distance"     // the twin is too close
	RuleTwinJurisdiction = "twin-jurisdiction" // the law applying to the twin is not allowed
	RuleLowering         = "lowering"          // lowering a sensitivity without a migration
)

// Refusal says why the rules refuse something: Rule is one of the Rule
// constants, Offer (or Site, for the twin rules) what was refused, and
// Reason the explanation that follows its name in Error.
type Refusal struct {
	Rule   string
	Offer  string
	Site   string
	Reason string
}

// Error returns e.g. "offer aws-eu-west-3 is tier external; bucket
// sensitivity high requires internal".
func (r *Refusal) Error() string {
	switch {
	case r.Offer != "":
		return "offer " + r.Offer + " " + r.Reason
	case r.Site != "":
		return "site " + r.Site + " " + r.Reason
	}
	return r.Reason
}

// Unwrap returns ErrRefused.
func (r *Refusal) Unwrap() error { return ErrRefused }

// Evaluate returns nil when an offer may hold a bucket of sensitivity s
// under r, and otherwise a *Refusal naming the first rule it breaks: the
// tier, then the certifications its tier requires, then the jurisdiction.
// The jurisdiction judged is the law that applies to the offer, whatever
// country hosts it.
func Evaluate(r Rules, s Sensitivity, o Offer) error {
	refuse := func(rule, format string, args ...any) error {
		return &Refusal{Rule: rule, Offer: o.Name, Reason: fmt.Sprintf(format, args...)}
	}
	if !s.Valid() {
		return refuse(RuleSensitivity, "cannot be judged: %v is not a sensitivity", s)
	}
	tiers := r.TiersFor(s)
	if !slices.Contains(tiers, o.Tier) {
		what := "is tier " + o.Tier.String()
		if !o.Tier.Valid() {
			what = "has no tier"
		}
		return refuse(RuleTier, "%s; bucket sensitivity %s requires %s", what, s, orList(tierStrings(tiers)))
	}
	for _, c := range r.RequiredCertifications[o.Tier] {
		if !o.HasCertification(c) {
			return refuse(RuleCertification, "is tier %s without certification %s; the rules require %s of %s offers", o.Tier, c, strings.Join(r.RequiredCertifications[o.Tier], ", "), o.Tier)
		}
	}
	if o.Jurisdiction == "" {
		return refuse(RuleJurisdiction, "declares no jurisdiction; bucket sensitivity %s requires %s", s, r.jurisdictionWords(s))
	}
	if !r.JurisdictionAllowed(s, o.Jurisdiction) {
		hosted := ""
		if o.HostedIn != "" {
			hosted = " (hosted in " + o.HostedIn + ")"
		}
		return refuse(RuleJurisdiction, "is under %s jurisdiction%s; bucket sensitivity %s requires %s", o.Jurisdiction, hosted, s, r.jurisdictionWords(s))
	}
	return nil
}

// Decision is the outcome of Place: the offer chosen, and why the others
// were not.
type Decision struct {
	Sensitivity Sensitivity
	// Chosen is the offer that holds the bucket; its zero value when no
	// offer is allowed.
	Chosen Offer
	// ByChoice is true when the tenant chose the offer, false when Place
	// picked it.
	ByChoice bool
	// Allowed lists every allowed candidate in Place's order of
	// preference; Chosen is one of them.
	Allowed []Offer
	// Rejected lists a refusal for every other candidate, in the order
	// the candidates were given.
	Rejected []Refusal
}

// PlacementError reports that no candidate is allowed for a sensitivity,
// with the refusal of each.
type PlacementError struct {
	Sensitivity Sensitivity
	Rejected    []Refusal
}

// Error lists every refusal: "no offer allowed for bucket sensitivity high:
// [1] offer a is ...; [2] offer b is ...".
func (e *PlacementError) Error() string {
	if len(e.Rejected) == 0 {
		return fmt.Sprintf("no offer allowed for bucket sensitivity %s: there is no offer to choose from", e.Sensitivity)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no offer allowed for bucket sensitivity %s:", e.Sensitivity)
	for i := range e.Rejected {
		if i > 0 {
			b.WriteByte(';')
		}
		fmt.Fprintf(&b, " [%d] %s", i+1, e.Rejected[i].Error())
	}
	return b.String()
}

// Unwrap returns ErrRefused.
func (e *PlacementError) Unwrap() error { return ErrRefused }

// Place chooses the offer that holds a bucket of sensitivity s among the
// candidates (the offers the tenant may use).
//
// When chosen is not empty it names the tenant's choice, which must be a
// candidate allowed for s: Place returns it, or a *Refusal saying why not.
// When chosen is empty Place picks deterministically among the allowed
// candidates: the most protective tier first (internal, dedicated,
// external), then the lowest price, then the smallest name. When none is
// allowed it returns a *PlacementError listing every refusal.
//
// The Decision is filled in even with an error, so that its Rejected list
// can explain a refusal.
func Place(r Rules, s Sensitivity, candidates []Offer, chosen string) (Decision, error) {
	d := Decision{Sensitivity: s}
	for _, o := range candidates {
		err := Evaluate(r, s, o)
		var ref *Refusal
		switch {
		case err == nil:
			d.Allowed = append(d.Allowed, o)
		case errors.As(err, &ref):
			d.Rejected = append(d.Rejected, *ref)
		default:
			return d, err
		}
	}
	slices.SortStableFunc(d.Allowed, preference)
	if chosen != "" {
		if i := slices.IndexFunc(d.Allowed, func(o Offer) bool { return o.Name == chosen }); i >= 0 {
			d.Chosen, d.ByChoice = d.Allowed[i], true
			return d, nil
		}
		for i := range d.Rejected {
			if d.Rejected[i].Offer == chosen {
				ref := d.Rejected[i]
				return d, &ref
			}
		}
		names := make([]string, len(candidates))
		for i, o := range candidates {
			names[i] = o.Name
		}
		list := "none"
		if len(names) > 0 {
			list = strings.Join(names, ", ")
		}
		return d, &Refusal{Rule: RuleChoice, Offer: chosen, Reason: "is not among the offers to choose from: " + list}
	}
	if len(d.Allowed) == 0 {
		return d, &PlacementError{Sensitivity: s, Rejected: d.Rejected}
	}
	d.Chosen = d.Allowed[0]
	return d, nil
}

// preference orders allowed offers: the most protective tier, then the
// cheapest, then by name.
func preference(a, b Offer) int {
	return cmp.Or(
		cmp.Compare(a.Tier, b.Tier),
		cmp.Compare(a.PricePerGBMonth, b.PricePerGBMonth),
		strings.Compare(a.Name, b.Name),
	)
}

// CheckTwin checks the twin rule for a site holding data of sensitivity s:
// a twin is declared when s requires one, and a declared twin is at least
// r.TwinMinDistance() km away (exactly that distance is enough) and under a
// jurisdiction allowed for s. twin is the site that site.Twin names (the
// zero Site when it names none). It returns nil or the first of
// TwinRefusals, a *Refusal naming the site.
func CheckTwin(r Rules, s Sensitivity, site, twin Site) error {
	if refs := TwinRefusals(r, s, site, twin); len(refs) > 0 {
		return &refs[0]
	}
	return nil
}

// TwinRefusals returns every way in which site and its twin break the twin
// rule for sensitivity s (see CheckTwin): none, a missing or undeclared
// twin, or the distance and the jurisdiction, each checked on its own.
func TwinRefusals(r Rules, s Sensitivity, site, twin Site) []Refusal {
	refuse := func(rule, format string, args ...any) []Refusal {
		return []Refusal{{Rule: rule, Site: site.Name, Reason: fmt.Sprintf(format, args...)}}
	}
	if !s.Valid() {
		return refuse(RuleSensitivity, "cannot be judged: %v is not a sensitivity", s)
	}
	minKm := r.TwinMinDistance()
	switch {
	case site.Twin == "" && r.TwinRequiredFor(s):
		return refuse(RuleTwin, "has no twin site; bucket sensitivity %s requires one at least %g km away under %s", s, minKm, r.jurisdictionWords(s))
	case site.Twin == "":
		return nil
	case site.Twin == site.Name:
		return refuse(RuleTwin, "cannot be its own twin")
	case twin.Name != site.Twin:
		return refuse(RuleTwin, "names twin %s, which is not declared", site.Twin)
	}
	var refs []Refusal
	if d := Distance(site.Location, twin.Location); !atLeast(d, minKm) {
		refs = append(refs, refuse(RuleTwinDistance, "is %.3f km from its twin %s; bucket sensitivity %s requires at least %g km", d, twin.Name, s, minKm)...)
	}
	if !r.JurisdictionAllowed(s, twin.Jurisdiction) {
		j := twin.Jurisdiction
		if j == "" {
			j = "no"
		}
		refs = append(refs, refuse(RuleTwinJurisdiction, "has its twin %s under %s jurisdiction; bucket sensitivity %s requires %s", twin.Name, j, s, r.jurisdictionWords(s))...)
	}
	return refs
}

// CanChange reports whether a bucket's sensitivity may change from from to
// to. Raising it is allowed: the caller migrates the data to offers allowed
// for the new sensitivity before the change takes effect. Lowering it needs
// an explicit migration (migrate true), so that data never becomes less
// protected by accident.
func CanChange(from, to Sensitivity, migrate bool) error {
	for _, s := range []Sensitivity{from, to} {
		if !s.Valid() {
			return &Refusal{Rule: RuleSensitivity, Reason: fmt.Sprintf("%v is not a sensitivity", s)}
		}
	}
	if to.MoreSensitiveThan(from) || to == from || migrate {
		return nil
	}
	return &Refusal{Rule: RuleLowering, Reason: fmt.Sprintf("bucket sensitivity %s cannot be lowered to %s without an explicit migration", from, to)}
}
