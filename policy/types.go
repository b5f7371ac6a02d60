package policy

import (
	"fmt"
	"strings"
)

// Sensitivity is how sensitive a bucket's data is. The zero value is High:
// a bucket with no label is treated as sensitive.
type Sensitivity uint8

// The sensitivities, from the most to the least sensitive.
const (
	High   Sensitivity = iota // State data, health, identity
	Medium                    // less sensitive
	Low                       // least sensitive
)

// Sensitivities lists every sensitivity, the most sensitive first.
var Sensitivities = []Sensitivity{High, Medium, Low}

var sensitivityNames = [...]string{High: "high", Medium: "medium", Low: "low"}

// ParseSensitivity parses "high", "medium" or "low". The empty string is
// High, because unlabeled data is sensitive.
func ParseSensitivity(s string) (Sensitivity, error) {
	if s == "" {
		return High, nil
	}
	for i, name := range sensitivityNames {
		if s == name {
			return Sensitivity(i), nil
		}
	}
	return High, fmt.Errorf("%q is not a sensitivity: use high, medium or low", s)
}

// Valid reports whether s is High, Medium or Low.
func (s Sensitivity) Valid() bool { return s <= Low }

// String returns "high", "medium" or "low".
func (s Sensitivity) String() string {
	if !s.Valid() {
		return fmt.Sprintf("Sensitivity(%d)", uint8(s))
	}
	return sensitivityNames[s]
}

// MoreSensitiveThan reports whether s is more sensitive than t.
func (s Sensitivity) MoreSensitiveThan(t Sensitivity) bool { return s < t }

// MarshalText returns the name of s.
func (s Sensitivity) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("policy: invalid sensitivity %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText parses a name as ParseSensitivity does.
func (s *Sensitivity) UnmarshalText(b []byte) error {
	v, err := ParseSensitivity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Tier is who runs an offer. The zero value is no tier, which no rule
// allows: an offer whose tier was forgotten is refused everywhere.
type Tier uint8

// The tiers, from the most to the least protective.
const (
	Internal  Tier = iota + 1 // run by the State (e.g. its OpenStack cloud)
	Dedicated                 // a provider supervised by the State's security agency
	External                  // the commercial cloud catalog
)

// Tiers lists every tier, the most protective first.
var Tiers = []Tier{Internal, Dedicated, External}

var tierNames = [...]string{Internal: "internal", Dedicated: "dedicated", External: "external"}

// ParseTier parses "internal", "dedicated" or "external".
func ParseTier(s string) (Tier, error) {
	for i, name := range tierNames {
		if i > 0 && s == name {
			return Tier(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not a tier: use internal, dedicated or external", s)
}

// Valid reports whether t is Internal, Dedicated or External.
func (t Tier) Valid() bool { return t >= Internal && t <= External }

// String returns "internal", "dedicated" or "external".
func (t Tier) String() string {
	if !t.Valid() {
		return fmt.Sprintf("Tier(%d)", uint8(t))
	}
	return tierNames[t]
}

// MarshalText returns the name of t.
func (t Tier) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("policy: invalid tier %d", uint8(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText parses a name as ParseTier does.
func (t *Tier) UnmarshalText(b []byte) error {
	v, err := ParseTier(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// LatLon is a point on Earth in decimal degrees (WGS 84).
type LatLon struct {
	Lat, Lon float64
}

// Valid reports whether the latitude is within [-90, 90] and the longitude
// within [-180, 180].
func (p LatLon) Valid() bool {
	return p.Lat >= -90 && p.Lat <= 90 && p.Lon >= -180 && p.Lon <= 180
}

// String formats p as "43.7384,7.4246".
func (p LatLon) String() string { return fmt.Sprintf("%g,%g", p.Lat, p.Lon) }

// Offer is a place where ciphertext can be stored, as the rules see it.
type Offer struct {
	Name    string
	Backend string // fs, s3 or swift: informative here
	Tier    Tier
	// Jurisdiction is the ISO 3166 alpha-2 code of the State whose law
	// applies to the data, which is what the rules judge.
	Jurisdiction string
	// HostedIn is the ISO 3166 alpha-2 code of the country where the data
	// center stands: a data embassy is hosted abroad under the sovereign's
	// jurisdiction.
	HostedIn        string
	Location        LatLon
	PricePerGBMonth float64
	Certifications  []string // e.g. SecNumCloud, HDS
}

// HasCertification reports whether o holds the certification, compared
// without regard to case.
func (o Offer) HasCertification(name string) bool {
	for _, c := range o.Certifications {
		if strings.EqualFold(c, name) {
			return true
		}
	}
	return false
}

// Site is a Coffre deployment in one place, as the twin rule sees it.
type Site struct {
	Name     string
	Location LatLon
	// Jurisdiction is the law that applies to the site; HostedIn the
	// country it stands in (they differ for a data embassy).
	Jurisdiction string
	HostedIn     string
	// Twin names the site that holds a copy of this one's data, or is "".
	Twin string
}
