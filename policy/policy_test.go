package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The rules of Monaco, and of a French ministry with an EU allow-list for
// medium data.
var (
	monacoRules = Rules{Sovereign: "MC"}
	franceRules = Rules{Sovereign: "FR", MediumJurisdictions: []string{"BE", "DE", "LU"}}
)

// The offers the tests judge.
var (
	monacoSwift    = Offer{Name: "monaco-swift", Backend: "swift", Tier: Internal, Jurisdiction: "MC", HostedIn: "MC", Location: monaco, PricePerGBMonth: 0.05}
	embassySwift   = Offer{Name: "embassy-swift", Backend: "swift", Tier: Internal, Jurisdiction: "MC", HostedIn: "LU", Location: bissen, PricePerGBMonth: 0.05}
	foreignInMC    = Offer{Name: "us-cloud-monaco", Backend: "s3", Tier: Internal, Jurisdiction: "US", HostedIn: "MC", Location: monaco, PricePerGBMonth: 0.02}
	dedicatedMC    = Offer{Name: "dedicated-mc", Backend: "s3", Tier: Dedicated, Jurisdiction: "MC", HostedIn: "MC", PricePerGBMonth: 0.03}
	awsParis       = Offer{Name: "aws-eu-west-3", Backend: "s3", Tier: External, Jurisdiction: "US", HostedIn: "FR", Location: paris, PricePerGBMonth: 0.024}
	ministrySwift  = Offer{Name: "ministry-swift", Backend: "swift", Tier: Internal, Jurisdiction: "FR", HostedIn: "FR", PricePerGBMonth: 0.04}
	secNumCloud    = Offer{Name: "outscale", Backend: "s3", Tier: Dedicated, Jurisdiction: "FR", HostedIn: "FR", PricePerGBMonth: 0.035, Certifications: []string{"SecNumCloud", "HDS"}}
	dedicatedDE    = Offer{Name: "dedicated-de", Backend: "s3", Tier: Dedicated, Jurisdiction: "DE", HostedIn: "DE", PricePerGBMonth: 0.03}
	dedicatedUS    = Offer{Name: "dedicated-us", Backend: "s3", Tier: Dedicated, Jurisdiction: "US", HostedIn: "IE", PricePerGBMonth: 0.02}
	externalCN     = Offer{Name: "external-cn", Backend: "s3", Tier: External, Jurisdiction: "CN", HostedIn: "CN", PricePerGBMonth: 0.01}
	noTier         = Offer{Name: "forgotten", Backend: "fs", Jurisdiction: "MC"}
	noJurisdiction = Offer{Name: "stateless", Backend: "fs", Tier: Internal}
)

func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules Rules
		s     Sensitivity
		offer Offer
		rule  string // "" when allowed
		want  string // the refusal, word for word
	}{
		{name: "high-internal-sovereign", rules: monacoRules, s: High, offer: monacoSwift},
		{name: "high-data-embassy-abroad", rules: monacoRules, s: High, offer: embassySwift},
		{name: "high-hosted-home-under-foreign-law", rules: monacoRules, s: High, offer: foreignInMC, rule: RuleJurisdiction,
			want: "offer us-cloud-monaco is under US jurisdiction (hosted in MC); bucket sensitivity high requires MC jurisdiction"},
		{name: "high-external", rules: monacoRules, s: High, offer: awsParis, rule: RuleTier,
			want: "offer aws-eu-west-3 is tier external; bucket sensitivity high requires internal"},
		{name: "high-dedicated", rules: monacoRules, s: High, offer: dedicatedMC, rule: RuleTier,
			want: "offer dedicated-mc is tier dedicated; bucket sensitivity high requires internal"},
		{name: "unlabeled-is-high", rules: monacoRules, offer: dedicatedMC, rule: RuleTier,
			want: "offer dedicated-mc is tier dedicated; bucket sensitivity high requires internal"},
		{name: "medium-dedicated-sovereign", rules: franceRules, s: Medium, offer: secNumCloud},
		{name: "medium-allow-listed-jurisdiction", rules: franceRules, s: Medium, offer: dedicatedDE},
		{name: "medium-internal", rules: franceRules, s: Medium, offer: ministrySwift},
		{name: "medium-not-allow-listed", rules: franceRules, s: Medium, offer: dedicatedUS, rule: RuleJurisdiction,
			want: "offer dedicated-us is under US jurisdiction (hosted in IE); bucket sensitivity medium requires FR jurisdiction or one of BE, DE, LU"},
		{name: "medium-no-allow-list", rules: monacoRules, s: Medium, offer: dedicatedDE, rule: RuleJurisdiction,
			want: "offer dedicated-de is under DE jurisdiction (hosted in DE); bucket sensitivity medium requires MC jurisdiction"},
		{name: "medium-external", rules: franceRules, s: Medium, offer: awsParis, rule: RuleTier,
			want: "offer aws-eu-west-3 is tier external; bucket sensitivity medium requires internal or dedicated"},
		{name: "low-external-anywhere", rules: franceRules, s: Low, offer: awsParis},
		{name: "low-external-china", rules: franceRules, s: Low, offer: externalCN},
		{name: "low-internal", rules: franceRules, s: Low, offer: ministrySwift},
		{name: "low-allow-list-refuses", rules: Rules{Sovereign: "FR", MediumJurisdictions: []string{"DE"}, LowJurisdictions: []string{"US"}}, s: Low, offer: externalCN, rule: RuleJurisdiction,
			want: "offer external-cn is under CN jurisdiction (hosted in CN); bucket sensitivity low requires FR jurisdiction or one of DE, US"},
		{name: "low-allow-list-admits-medium-jurisdictions", rules: Rules{Sovereign: "FR", MediumJurisdictions: []string{"DE"}, LowJurisdictions: []string{"US"}}, s: Low, offer: dedicatedDE},
		{name: "low-allow-list-admits-its-own", rules: Rules{Sovereign: "FR", LowJurisdictions: []string{"US"}}, s: Low, offer: awsParis},
		{name: "no-tier-refused-everywhere", rules: monacoRules, s: Low, offer: noTier, rule: RuleTier,
			want: "offer forgotten has no tier; bucket sensitivity low requires internal, dedicated or external"},
		{name: "no-jurisdiction-refused-everywhere", rules: monacoRules, s: Low, offer: noJurisdiction, rule: RuleJurisdiction,
			want: "offer stateless declares no jurisdiction; bucket sensitivity low requires any jurisdiction"},
		{name: "no-sovereign-refuses-high", rules: Rules{}, s: High, offer: monacoSwift, rule: RuleJurisdiction,
			want: "offer monaco-swift is under MC jurisdiction (hosted in MC); bucket sensitivity high requires no jurisdiction"},
		{name: "override-medium-internal-only", rules: Rules{Sovereign: "FR", Tiers: map[Sensitivity][]Tier{Medium: {Internal}}}, s: Medium, offer: secNumCloud, rule: RuleTier,
			want: "offer outscale is tier dedicated; bucket sensitivity medium requires internal"},
		{name: "override-relaxation-ignored", rules: Rules{Sovereign: "MC", Tiers: map[Sensitivity][]Tier{High: {Internal, External}}}, s: High, offer: awsParis, rule: RuleTier,
			want: "offer aws-eu-west-3 is tier external; bucket sensitivity high requires internal"},
		{name: "certification-held", rules: Rules{Sovereign: "FR", RequiredCertifications: map[Tier][]string{Dedicated: {"secnumcloud"}}}, s: Medium, offer: secNumCloud},
		{name: "certification-missing", rules: Rules{Sovereign: "FR", MediumJurisdictions: []string{"DE"}, RequiredCertifications: map[Tier][]string{Dedicated: {"SecNumCloud"}}}, s: Medium, offer: dedicatedDE, rule: RuleCertification,
			want: "offer dedicated-de is tier dedicated without certification SecNumCloud; the rules require SecNumCloud of dedicated offers"},
		{name: "invalid-sensitivity", rules: monacoRules, s: Sensitivity(9), offer: monacoSwift, rule: RuleSensitivity,
			want: "offer monaco-swift cannot be judged: Sensitivity(9) is not a sensitivity"},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			err := Evaluate(tc.rules, tc.s, tc.offer)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("Evaluate = %v, want the offer allowed", err)
				}
				return
			}
			var ref *Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("Evaluate = %v, want a *Refusal", err)
			}
			if ref.Rule != tc.rule || ref.Offer != tc.offer.Name {
				t.Fatalf("refusal names rule %q and offer %q, want %q and %q", ref.Rule, ref.Offer, tc.rule, tc.offer.Name)
			}
			if got := err.Error(); got != tc.want {
				t.Fatalf("message:\n got %s\nwant %s", got, tc.want)
			}
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("errors.Is(%v, ErrRefused) = false", err)
			}
		})
	}
}

func names(offers []Offer) []string {
	out := make([]string, len(offers))
	for i, o := range offers {
		out[i] = o.Name
	}
	return out
}

func TestPlaceDeterministic(t *testing.T) {
	cheapInternal := Offer{Name: "b-cheap", Tier: Internal, Jurisdiction: "FR", PricePerGBMonth: 0.01}
	sameA := Offer{Name: "a-same", Tier: Internal, Jurisdiction: "FR", PricePerGBMonth: 0.04}
	candidates := []Offer{awsParis, secNumCloud, ministrySwift, externalCN, sameA, cheapInternal, dedicatedUS}
	for _, tc := range []struct {
		s        Sensitivity
		chosen   string
		allowed  []string
		rejected []string
	}{
		{High, "b-cheap", []string{"b-cheap", "a-same", "ministry-swift"}, []string{"aws-eu-west-3", "outscale", "external-cn", "dedicated-us"}},
		{Medium, "b-cheap", []string{"b-cheap", "a-same", "ministry-swift", "outscale"}, []string{"aws-eu-west-3", "external-cn", "dedicated-us"}},
		{Low, "b-cheap", []string{"b-cheap", "a-same", "ministry-swift", "dedicated-us", "outscale", "external-cn", "aws-eu-west-3"}, nil},
	} {
		t.Run("sensitivity="+tc.s.String(), func(t *testing.T) {
			for i := range 4 {
				// Any order of the candidates gives the same decision.
				in := slices.Clone(candidates)
				if i%2 == 1 {
					slices.Reverse(in)
				}
				if i >= 2 {
					in = append(in[3:], in[:3]...)
				}
				d, err := Place(franceRules, tc.s, in, "")
				if err != nil {
					t.Fatalf("Place: %v", err)
				}
				if d.Chosen.Name != tc.chosen || d.ByChoice {
					t.Fatalf("chosen %s (by choice %v), want %s picked by Coffre", d.Chosen.Name, d.ByChoice, tc.chosen)
				}
				if got := names(d.Allowed); !slices.Equal(got, tc.allowed) {
					t.Fatalf("allowed %v, want %v in that order", got, tc.allowed)
				}
				var rejected []string
				for _, r := range d.Rejected {
					rejected = append(rejected, r.Offer)
				}
				slices.Sort(rejected)
				want := slices.Sorted(slices.Values(tc.rejected))
				if !slices.Equal(rejected, want) {
					t.Fatalf("rejected %v, want %v", rejected, want)
				}
			}
		})
	}
}

func TestPlaceChoice(t *testing.T) {
	candidates := []Offer{ministrySwift, secNumCloud, awsParis}
	t.Run("choice=allowed", func(t *testing.T) {
		d, err := Place(franceRules, Low, candidates, "aws-eu-west-3")
		if err != nil || d.Chosen.Name != "aws-eu-west-3" || !d.ByChoice {
			t.Fatalf("Place = %s (by choice %v), %v; want aws-eu-west-3 by choice", d.Chosen.Name, d.ByChoice, err)
		}
	})
	t.Run("choice=refused", func(t *testing.T) {
		d, err := Place(franceRules, High, candidates, "aws-eu-west-3")
		want := "offer aws-eu-west-3 is tier external; bucket sensitivity high requires internal"
		if err == nil || err.Error() != want {
			t.Fatalf("Place = %v, want %q", err, want)
		}
		if d.Chosen.Name != "" {
			t.Fatalf("chosen %q with a refusal", d.Chosen.Name)
		}
		if len(d.Rejected) != 2 {
			t.Fatalf("rejected %v, want the two refusals for explanation", d.Rejected)
		}
	})
	t.Run("choice=unknown", func(t *testing.T) {
		_, err := Place(franceRules, Low, candidates, "ovh")
		want := "offer ovh is not among the offers to choose from: ministry-swift, outscale, aws-eu-west-3"
		var ref *Refusal
		if !errors.As(err, &ref) || ref.Rule != RuleChoice || err.Error() != want {
			t.Fatalf("Place = %v, want a choice refusal %q", err, want)
		}
	})
}

func TestPlaceNoneAllowed(t *testing.T) {
	d, err := Place(monacoRules, High, []Offer{awsParis, foreignInMC, dedicatedMC}, "")
	want := "no offer allowed for bucket sensitivity high:" +
		" [1] offer aws-eu-west-3 is tier external; bucket sensitivity high requires internal;" +
		" [2] offer us-cloud-monaco is under US jurisdiction (hosted in MC); bucket sensitivity high requires MC jurisdiction;" +
		" [3] offer dedicated-mc is tier dedicated; bucket sensitivity high requires internal"
	if err == nil || err.Error() != want {
		t.Fatalf("Place error:\n got %v\nwant %s", err, want)
	}
	var pe *PlacementError
	if !errors.As(err, &pe) || !errors.Is(err, ErrRefused) || len(pe.Rejected) != 3 || len(d.Rejected) != 3 {
		t.Fatalf("Place error %#v: want a *PlacementError of kind ErrRefused with 3 refusals", err)
	}
	_, err = Place(monacoRules, Low, nil, "")
	if want := "no offer allowed for bucket sensitivity low: there is no offer to choose from"; err == nil || err.Error() != want {
		t.Fatalf("Place with no candidates = %v, want %q", err, want)
	}
}

func TestCheckTwin(t *testing.T) {
	mc := Site{Name: "monaco", Location: monaco, Jurisdiction: "MC", HostedIn: "MC", Twin: "luxembourg"}
	lu := Site{Name: "luxembourg", Location: bissen, Jurisdiction: "MC", HostedIn: "LU"}
	at := func(km float64) Site {
		return Site{Name: "north", Location: pointNorth(mc.Location, km), Jurisdiction: "MC"}
	}
	withTwin := func(s Site, twin string) Site { s.Twin = twin; return s }
	alone := withTwin(mc, "")
	for _, tc := range []struct {
		name       string
		rules      Rules
		s          Sensitivity
		site, twin Site
		rule       string
		want       string
	}{
		{name: "data-embassy", rules: monacoRules, s: High, site: mc, twin: lu},
		{name: "exactly-120km", rules: monacoRules, s: High, site: withTwin(mc, "north"), twin: at(120)},
		{name: "exactly-120km-from-equator", rules: monacoRules, s: High,
			site: Site{Name: "a", Jurisdiction: "MC", Twin: "north"}, twin: Site{Name: "north", Location: pointNorth(LatLon{}, 120), Jurisdiction: "MC"}},
		{name: "119.999km", rules: monacoRules, s: High, site: withTwin(mc, "north"), twin: at(119.999), rule: RuleTwinDistance,
			want: "site monaco is 119.999 km from its twin north; bucket sensitivity high requires at least 120 km"},
		{name: "stricter-distance", rules: Rules{Sovereign: "MC", TwinMinDistanceKm: 1000}, s: High, site: mc, twin: lu, rule: RuleTwinDistance,
			want: "site monaco is 680.517 km from its twin luxembourg; bucket sensitivity high requires at least 1000 km"},
		{name: "relaxed-distance-ignored", rules: Rules{Sovereign: "MC", TwinMinDistanceKm: 50}, s: High, site: withTwin(mc, "north"), twin: at(100), rule: RuleTwinDistance,
			want: "site monaco is 100.000 km from its twin north; bucket sensitivity high requires at least 120 km"},
		{name: "high-no-twin", rules: monacoRules, s: High, site: alone, rule: RuleTwin,
			want: "site monaco has no twin site; bucket sensitivity high requires one at least 120 km away under MC jurisdiction"},
		{name: "medium-no-twin", rules: franceRules, s: Medium, site: alone, rule: RuleTwin,
			want: "site monaco has no twin site; bucket sensitivity medium requires one at least 120 km away under FR jurisdiction or one of BE, DE, LU"},
		{name: "medium-twin-optional-by-rule", rules: Rules{Sovereign: "MC", TwinRequired: map[Sensitivity]bool{Medium: false}}, s: Medium, site: alone},
		{name: "high-twin-never-optional", rules: Rules{Sovereign: "MC", TwinRequired: map[Sensitivity]bool{High: false}}, s: High, site: alone, rule: RuleTwin,
			want: "site monaco has no twin site; bucket sensitivity high requires one at least 120 km away under MC jurisdiction"},
		{name: "low-no-twin", rules: monacoRules, s: Low, site: alone},
		{name: "low-twin-required-by-rule", rules: Rules{Sovereign: "MC", TwinRequired: map[Sensitivity]bool{Low: true}}, s: Low, site: alone, rule: RuleTwin,
			want: "site monaco has no twin site; bucket sensitivity low requires one at least 120 km away under any jurisdiction"},
		{name: "twin-under-host-law", rules: monacoRules, s: High, site: mc, twin: Site{Name: "luxembourg", Location: bissen, Jurisdiction: "LU", HostedIn: "LU"}, rule: RuleTwinJurisdiction,
			want: "site monaco has its twin luxembourg under LU jurisdiction; bucket sensitivity high requires MC jurisdiction"},
		{name: "twin-allow-listed-for-medium", rules: Rules{Sovereign: "MC", MediumJurisdictions: []string{"LU"}}, s: Medium, site: mc, twin: Site{Name: "luxembourg", Location: bissen, Jurisdiction: "LU"}},
		{name: "twin-abroad-for-low", rules: monacoRules, s: Low, site: mc, twin: Site{Name: "luxembourg", Location: bissen, Jurisdiction: "LU"}},
		{name: "own-twin", rules: monacoRules, s: High, site: withTwin(mc, "monaco"), twin: mc, rule: RuleTwin,
			want: "site monaco cannot be its own twin"},
		{name: "undeclared-twin", rules: monacoRules, s: High, site: mc, rule: RuleTwin,
			want: "site monaco names twin luxembourg, which is not declared"},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			err := CheckTwin(tc.rules, tc.s, tc.site, tc.twin)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("CheckTwin = %v, want nil", err)
				}
				return
			}
			var ref *Refusal
			if !errors.As(err, &ref) || ref.Rule != tc.rule || ref.Site != tc.site.Name {
				t.Fatalf("CheckTwin = %#v, want a refusal of rule %q for site %s", err, tc.rule, tc.site.Name)
			}
			if got := err.Error(); got != tc.want {
				t.Fatalf("message:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCanChange(t *testing.T) {
	for _, tc := range []struct {
		from, to Sensitivity
		migrate  bool
		want     string
	}{
		{Low, High, false, ""},
		{Low, Medium, false, ""},
		{Medium, High, false, ""},
		{High, High, false, ""},
		{High, Low, false, "bucket sensitivity high cannot be lowered to low without an explicit migration"},
		{Medium, Low, false, "bucket sensitivity medium cannot be lowered to low without an explicit migration"},
		{High, Medium, true, ""},
		{High, Sensitivity(3), true, "Sensitivity(3) is not a sensitivity"},
	} {
		t.Run(fmt.Sprintf("from=%v/to=%v/migrate=%v", tc.from, tc.to, tc.migrate), func(t *testing.T) {
			err := CanChange(tc.from, tc.to, tc.migrate)
			got := ""
			if err != nil {
				got = err.Error()
				if !errors.Is(err, ErrRefused) {
					t.Fatalf("CanChange = %v, not of kind ErrRefused", err)
				}
			}
			if got != tc.want {
				t.Fatalf("CanChange = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRulesCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules Rules
		want  []string
	}{
		{"doctrine", monacoRules, nil},
		{"stricter", Rules{Sovereign: "FR", MediumJurisdictions: []string{"DE"}, LowJurisdictions: []string{"FR"}, TwinMinDistanceKm: 300,
			TwinRequired: map[Sensitivity]bool{Low: true, Medium: false}, Tiers: map[Sensitivity][]Tier{Medium: {Internal}, Low: {Internal, Dedicated}},
			RequiredCertifications: map[Tier][]string{Dedicated: {"SecNumCloud"}}}, nil},
		{"exactly-the-default-distance", Rules{Sovereign: "MC", TwinMinDistanceKm: 120}, nil},
		{"no-sovereign", Rules{}, []string{"rules sovereign: no sovereign jurisdiction: high data could go nowhere"}},
		{"relaxations", Rules{Sovereign: "mc", MediumJurisdictions: []string{"EU"}, TwinMinDistanceKm: 50,
			TwinRequired: map[Sensitivity]bool{High: false}, Tiers: map[Sensitivity][]Tier{High: {Internal, Dedicated}, Medium: {}}}, []string{
			`rules sovereign: "mc" is not an ISO 3166 alpha-2 country code`,
			`rules medium_jurisdictions EU: "EU" is not an ISO 3166 alpha-2 country code`,
			"rules twin_min_distance_km: 50 km would relax the doctrine's 120 km between twin sites; rules may only be made stricter",
			"rules twin_required high: high data always needs a twin site; rules may only be made stricter",
			"rules tiers high: tier dedicated would relax the doctrine, which allows internal for high data; rules may only be made stricter",
			"rules tiers medium: allows no tier: no medium bucket could be placed",
		}},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			var got []string
			for _, e := range tc.rules.Check() {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Check:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tc.want, "\n     "))
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, name := range []string{"high", "medium", "low"} {
		s, err := ParseSensitivity(name)
		if err != nil || s.String() != name {
			t.Fatalf("ParseSensitivity(%q) = %v, %v", name, s, err)
		}
	}
	if s, err := ParseSensitivity(""); s != High || err != nil {
		t.Fatalf("ParseSensitivity(\"\") = %v, %v; want high: unlabeled data is sensitive", s, err)
	}
	if _, err := ParseSensitivity("High"); err == nil {
		t.Fatal("ParseSensitivity(\"High\") succeeded; names are lower case")
	}
	var zero Sensitivity
	if zero != High {
		t.Fatal("the zero Sensitivity is not High")
	}
	for _, name := range []string{"internal", "dedicated", "external"} {
		tier, err := ParseTier(name)
		if err != nil || tier.String() != name {
			t.Fatalf("ParseTier(%q) = %v, %v", name, tier, err)
		}
	}
	for _, bad := range []string{"", "extrnal", "Tier(0)"} {
		if _, err := ParseTier(bad); err == nil {
			t.Fatalf("ParseTier(%q) succeeded", bad)
		}
	}
	var tier Tier
	if tier.Valid() {
		t.Fatal("the zero Tier is valid; a forgotten tier must be refused")
	}
	if err := tier.UnmarshalText([]byte("dedicated")); err != nil || tier != Dedicated {
		t.Fatalf("UnmarshalText = %v, %v", tier, err)
	}
	if b, err := Low.MarshalText(); err != nil || string(b) != "low" {
		t.Fatalf("MarshalText = %q, %v", b, err)
	}
}

func TestValidJurisdiction(t *testing.T) {
	for code, want := range map[string]bool{
		"MC": true, "FR": true, "LU": true, "US": true, "AD": true, "ZW": true, "GB": true,
		"EU": false, "UK": false, "mc": false, "M": false, "MCO": false, "": false, "C ": false, "D ": false,
	} {
		if got := ValidJurisdiction(code); got != want {
			t.Errorf("ValidJurisdiction(%q) = %v, want %v", code, got, want)
		}
	}
}

func TestRequirement(t *testing.T) {
	for _, tc := range []struct {
		rules Rules
		s     Sensitivity
		want  string
	}{
		{monacoRules, High, "tier internal under MC jurisdiction"},
		{franceRules, Medium, "tier internal or dedicated under FR jurisdiction or one of BE, DE, LU"},
		{franceRules, Low, "tier internal, dedicated or external under any jurisdiction"},
	} {
		if got := tc.rules.Requirement(tc.s); got != tc.want {
			t.Errorf("Requirement(%v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestTwinRefusalsReportsEachRule(t *testing.T) {
	site := Site{Name: "monaco", Location: monaco, Jurisdiction: "MC", Twin: "nice"}
	twin := Site{Name: "nice", Location: LatLon{43.7102, 7.2620}, Jurisdiction: "FR"}
	var got []string
	for _, r := range TwinRefusals(monacoRules, High, site, twin) {
		got = append(got, r.Rule+": "+r.Error())
	}
	want := []string{
		"twin-distance: site monaco is 13.437 km from its twin nice; bucket sensitivity high requires at least 120 km",
		"twin-jurisdiction: site monaco has its twin nice under FR jurisdiction; bucket sensitivity high requires MC jurisdiction",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("TwinRefusals:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if err := CheckTwin(monacoRules, High, site, twin); err == nil || err.Error() != want[0][len("twin-distance: "):] {
		t.Fatalf("CheckTwin = %v, want the first refusal", err)
	}
}
