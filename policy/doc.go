// Package policy makes the State's cloud doctrine executable: which offers
// may hold a bucket of a given sensitivity, which one is chosen, and whether
// a site's twin is far enough and under the right law.
//
// The doctrine has three sensitivities and three tiers of offers:
//
//	sensitivity  tiers allowed                  jurisdiction                          twin site
//	high         internal                       the sovereign's own                   required
//	medium       internal, dedicated            the sovereign's + MediumJurisdictions required by default
//	low          internal, dedicated, external  any (or the sovereign's + Medium +    optional
//	                                            LowJurisdictions when that is set)
//
// Jurisdiction is the law that applies to an offer, not the country that
// hosts it: a data embassy abroad (hosted in LU under Monaco's law) may hold
// Monaco's high data, and a data center in Monaco run under another State's
// law may not. A bucket with no label is high: unlabeled data is treated as
// sensitive.
//
// Rules may tighten the doctrine (fewer tiers, a longer twin distance, a
// twin for low data, certifications required of a tier) and never relax it:
// Rules.Check names every relaxation, and the functions of this package
// ignore relaxations even when Check was not called, so a mistaken
// configuration fails closed.
//
// Everything here is a pure function of its arguments: no I/O, no clock, no
// global state. The vault calls Place when a bucket is created and CanChange
// when its sensitivity is changed; the config package calls the same
// functions when it loads coffre.yaml, so a configuration that loads cannot
// place data where the doctrine forbids. Every refusal is a *Refusal that
// names the rule, the offer (or site) and the reason, and wraps ErrRefused.
package policy
