package config

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/coffre-cloud/coffre/policy"
)

// Config is a whole coffre.yaml: the sovereign, the rules, the sites, the
// offers and the tenants. Relative paths in it are relative to Data.
type Config struct {
	// Sovereign is the ISO 3166 alpha-2 code of the State whose law must
	// apply to high data.
	Sovereign string `yaml:"sovereign"`
	// Data is the data directory (default coffre-data); the --data flag
	// overrides it.
	Data string `yaml:"data"`
	// Currency is the ISO 4217 code of the offers' prices (default EUR).
	Currency string   `yaml:"currency"`
	Rules    Rules    `yaml:"rules"`
	Sites    []Site   `yaml:"sites"`
	Offers   []Offer  `yaml:"offers"`
	Tenants  []Tenant `yaml:"tenants"`

	pos     map[string]position // where each field was read, by path
	partial bool                // some values could not be read
}

// Rules tighten the doctrine of package policy; they may never relax it.
type Rules struct {
	// MediumJurisdictions may hold medium data besides the sovereign's.
	MediumJurisdictions []string `yaml:"medium_jurisdictions"`
	// LowJurisdictions, when set, restricts low data to these, the
	// sovereign's and MediumJurisdictions; empty means any.
	LowJurisdictions []string `yaml:"low_jurisdictions"`
	// TwinMinDistanceKm is the least distance between twin sites
	// (default and minimum 120).
	TwinMinDistanceKm float64 `yaml:"twin_min_distance_km"`
	// TwinRequired overrides whether a sensitivity needs a twin site
	// (high always does; medium by default; low not by default).
	TwinRequired map[policy.Sensitivity]bool `yaml:"twin_required"`
	// Tiers restricts the tiers of a sensitivity to a subset of the
	// doctrine's.
	Tiers map[policy.Sensitivity][]policy.Tier `yaml:"tiers"`
	// RequiredCertifications lists what every offer of a tier must hold.
	RequiredCertifications map[policy.Tier][]string `yaml:"required_certifications"`
}

// Location is a point in decimal degrees.
type Location struct {
	Lat float64 `yaml:"lat,required"`
	Lon float64 `yaml:"lon,required"`
}

// LatLon returns l as policy sees it; the zero point when l is nil.
func (l *Location) LatLon() policy.LatLon {
	if l == nil {
		return policy.LatLon{}
	}
	return policy.LatLon{Lat: l.Lat, Lon: l.Lon}
}

// Site is one Coffre deployment: where it stands, under which law, its
// twin, its addresses, its metadata and key stores, and its offers.
type Site struct {
	Name         string    `yaml:"name"`
	Location     *Location `yaml:"location"`
	Jurisdiction string    `yaml:"jurisdiction"`
	// HostedIn is the country the site stands in (default: Jurisdiction).
	HostedIn string `yaml:"hosted_in"`
	// Twin names the site holding a copy of this one's data. Twins are
	// mutual: naming it on one side is enough.
	Twin string `yaml:"twin"`
	// S3Address is HOST:PORT of the site's S3 API (default 127.0.0.1:9000
	// for the first site, 9001 for the second...).
	S3Address string `yaml:"s3_address"`
	// IdentityAddress is HOST:PORT of the site's OpenID provider, if any.
	IdentityAddress string   `yaml:"identity_address"`
	Metadata        Metadata `yaml:"metadata"`
	Keys            Keys     `yaml:"keys"`
	// Offers names the offers this site writes to.
	Offers []string `yaml:"offers"`
}

// Metadata says where a site keeps its metadata: one of the two.
type Metadata struct {
	// SQLite is the database file (default sites/NAME/meta.db).
	SQLite string `yaml:"sqlite"`
	// Postgres is a connection string without password (the password
	// comes from PGPASSWORD or ~/.pgpass).
	Postgres string `yaml:"postgres"`
}

// Keys says where a site keeps its root keys: one of the two.
type Keys struct {
	// Keyring is the sealed keyring file (default sites/NAME/keyring).
	Keyring string  `yaml:"keyring"`
	PKCS11  *PKCS11 `yaml:"pkcs11"`
}

// PKCS11 names an HSM token; its PIN comes from COFFRE_PKCS11_PIN or
// COFFRE_PKCS11_PIN_FILE, never from the file.
type PKCS11 struct {
	Module string `yaml:"module"` // absolute path of the PKCS#11 library
	Token  string `yaml:"token"`  // token label
}

// The backends an offer may use.
const (
	BackendFS    = "fs"
	BackendS3    = "s3"
	BackendSwift = "swift"
)

// Offer is a place where ciphertext can be stored, with what the rules
// judge (tier, jurisdiction) and what the backend needs to reach it.
type Offer struct {
	Name    string      `yaml:"name"`
	Backend string      `yaml:"backend"`
	Tier    policy.Tier `yaml:"tier"`
	// Jurisdiction is the law that applies (ISO 3166 alpha-2).
	Jurisdiction string `yaml:"jurisdiction"`
	// HostedIn is the country of the data center (default: Jurisdiction).
	HostedIn        string      `yaml:"hosted_in"`
	Location        *Location   `yaml:"location"`
	PricePerGBMonth float64     `yaml:"price_per_gb_month"`
	Certifications  []string    `yaml:"certifications"`
	FS              *FSOffer    `yaml:"fs"`
	S3              *S3Offer    `yaml:"s3"`
	Swift           *SwiftOffer `yaml:"swift"`
}

// FSOffer is a local directory.
type FSOffer struct {
	Path string `yaml:"path"` // default offers/NAME
}

// S3Offer is a bucket of any S3 cloud. Credentials come from the
// environment variables it names, never from the file.
type S3Offer struct {
	// Endpoint is the service URL; empty means AWS's endpoint for Region.
	Endpoint     string `yaml:"endpoint"`
	Region       string `yaml:"region"`
	Bucket       string `yaml:"bucket"`
	AccessKeyEnv string `yaml:"access_key_env"`
	SecretKeyEnv string `yaml:"secret_key_env"`
	// PathStyle addresses the bucket in the path rather than the host
	// name (MinIO, Ceph RGW and Swift's S3 API usually need it).
	PathStyle bool `yaml:"path_style"`
}

// SwiftOffer is a container of an OpenStack Swift cluster, reached with
// Keystone v3 or the v1 tempauth. The key comes from the environment
// variable KeyEnv names.
type SwiftOffer struct {
	AuthURL string `yaml:"auth_url"`
	// AuthVersion is 3 (Keystone, the default) or 1 (tempauth).
	AuthVersion int    `yaml:"auth_version"`
	User        string `yaml:"user"`
	KeyEnv      string `yaml:"key_env"`
	// Project and Domain are Keystone v3's (Domain defaults to Default).
	Project   string `yaml:"project"`
	Domain    string `yaml:"domain"`
	Container string `yaml:"container"`
	Region    string `yaml:"region"`
}

// Tenant is an administration or a company: the offers it subscribed to,
// its choice per sensitivity, and its quotas.
type Tenant struct {
	Name string `yaml:"name"`
	// Offers lists the offers the tenant's data may use; empty means all.
	Offers []string `yaml:"offers"`
	// Choose names the tenant's offer per sensitivity; where it names
	// none, or the offer is not at a site, Coffre picks (policy.Place).
	Choose map[policy.Sensitivity]string `yaml:"choose"`
	Quota  Quota                         `yaml:"quota"`
}

// Quota bounds a tenant's usage; zero means unlimited.
type Quota struct {
	Bytes   Size  `yaml:"bytes"`
	Objects int64 `yaml:"objects"`
}

// Site returns the site named name, or nil.
func (c *Config) Site(name string) *Site {
	if i := slices.IndexFunc(c.Sites, func(s Site) bool { return s.Name == name }); i >= 0 {
		return &c.Sites[i]
	}
	return nil
}

// Offer returns the offer named name, or nil.
func (c *Config) Offer(name string) *Offer {
	if i := slices.IndexFunc(c.Offers, func(o Offer) bool { return o.Name == name }); i >= 0 {
		return &c.Offers[i]
	}
	return nil
}

// Tenant returns the tenant named name, or nil.
func (c *Config) Tenant(name string) *Tenant {
	if i := slices.IndexFunc(c.Tenants, func(t Tenant) bool { return t.Name == name }); i >= 0 {
		return &c.Tenants[i]
	}
	return nil
}

// Twin returns the twin of the named site: the site it names, or the site
// that names it. It returns nil when it has none.
func (c *Config) Twin(site string) *Site {
	s := c.Site(site)
	if s == nil {
		return nil
	}
	if s.Twin != "" {
		return c.Site(s.Twin)
	}
	for i := range c.Sites {
		if c.Sites[i].Twin == site && c.Sites[i].Name != site {
			return &c.Sites[i]
		}
	}
	return nil
}

// PolicyRules returns the rules as package policy applies them.
func (c *Config) PolicyRules() policy.Rules {
	return policy.Rules{
		Sovereign:              c.Sovereign,
		MediumJurisdictions:    c.Rules.MediumJurisdictions,
		LowJurisdictions:       c.Rules.LowJurisdictions,
		TwinMinDistanceKm:      c.Rules.TwinMinDistanceKm,
		TwinRequired:           c.Rules.TwinRequired,
		Tiers:                  c.Rules.Tiers,
		RequiredCertifications: c.Rules.RequiredCertifications,
	}
}

// Policy returns the offer as package policy judges it.
func (o *Offer) Policy() policy.Offer {
	return policy.Offer{
		Name: o.Name, Backend: o.Backend, Tier: o.Tier,
		Jurisdiction: o.Jurisdiction, HostedIn: o.HostedIn, Location: o.Location.LatLon(),
		PricePerGBMonth: o.PricePerGBMonth, Certifications: o.Certifications,
	}
}

// Policy returns the site as package policy judges it, with twin as its
// twin's name (Site.Twin, or the site naming it).
func (s *Site) Policy(twin string) policy.Site {
	return policy.Site{Name: s.Name, Location: s.Location.LatLon(), Jurisdiction: s.Jurisdiction, HostedIn: s.HostedIn, Twin: twin}
}

// Candidates returns the offers a tenant's buckets may use at a site: the
// site's offers, restricted to the tenant's when it lists some. A tenant
// absent from the configuration (created at run time) may use all of the
// site's offers.
func (c *Config) Candidates(site, tenant string) []policy.Offer {
	s := c.Site(site)
	if s == nil {
		return nil
	}
	t := c.Tenant(tenant)
	var out []policy.Offer
	for _, name := range s.Offers {
		if t != nil && len(t.Offers) > 0 && !slices.Contains(t.Offers, name) {
			continue
		}
		if o := c.Offer(name); o != nil {
			out = append(out, o.Policy())
		}
	}
	return out
}

// Place decides which offer holds a bucket of sensitivity s of tenant at a
// site, honouring the tenant's choice when that offer is at the site. The
// decision explains every rejected offer (coffre placement explain); the
// error is policy's, of kind policy.ErrRefused.
func (c *Config) Place(site, tenant string, s policy.Sensitivity) (policy.Decision, error) {
	if c.Site(site) == nil {
		return policy.Decision{Sensitivity: s}, fmt.Errorf("no site %q in the configuration", site)
	}
	candidates := c.Candidates(site, tenant)
	chosen := ""
	if t := c.Tenant(tenant); t != nil {
		if name := t.Choose[s]; slices.ContainsFunc(candidates, func(o policy.Offer) bool { return o.Name == name }) {
			chosen = name
		}
	}
	return policy.Place(c.PolicyRules(), s, candidates, chosen)
}

// SitePlacer places the buckets of a site's tenants (vault.Placer).
type SitePlacer struct {
	c    *Config
	site string
}

// Placer returns the placer of a site.
func (c *Config) Placer(site string) SitePlacer { return SitePlacer{c, site} }

// Place decides which offer holds a bucket of sensitivity s of tenant: the
// offer named when it is allowed, else as Config.Place decides.
func (p SitePlacer) Place(tenant string, s policy.Sensitivity, offer string) (policy.Decision, error) {
	if offer == "" {
		return p.c.Place(p.site, tenant, s)
	}
	return policy.Place(p.c.PolicyRules(), s, p.c.Candidates(p.site, tenant), offer)
}

// Path resolves a path of the configuration: absolute paths stay, relative
// ones are relative to the data directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Data, p)
}

// Defaults.
const (
	DefaultData      = "coffre-data"
	DefaultCurrency  = "EUR"
	firstS3Port      = 9000
	defaultSwiftAuth = 3
)

// setDefaults fills what the file may leave out.
func (c *Config) setDefaults() {
	if c.Data == "" {
		c.Data = DefaultData
	}
	if c.Currency == "" {
		c.Currency = DefaultCurrency
	}
	if c.Rules.TwinMinDistanceKm == 0 {
		c.Rules.TwinMinDistanceKm = policy.DefaultTwinMinDistanceKm
	}
	for i := range c.Sites {
		s := &c.Sites[i]
		if s.HostedIn == "" {
			s.HostedIn = s.Jurisdiction
		}
		if s.S3Address == "" {
			s.S3Address = fmt.Sprintf("127.0.0.1:%d", firstS3Port+i)
		}
		if s.Metadata == (Metadata{}) && s.Name != "" {
			s.Metadata.SQLite = filepath.Join("sites", s.Name, "meta.db")
		}
		if s.Keys.Keyring == "" && s.Keys.PKCS11 == nil && s.Name != "" {
			s.Keys.Keyring = filepath.Join("sites", s.Name, "keyring")
		}
	}
	for i := range c.Offers {
		o := &c.Offers[i]
		if o.HostedIn == "" {
			o.HostedIn = o.Jurisdiction
		}
		switch o.Backend {
		case BackendFS:
			if o.FS == nil {
				o.FS = &FSOffer{}
			}
			if o.FS.Path == "" && o.Name != "" {
				o.FS.Path = filepath.Join("offers", o.Name)
			}
		case BackendSwift:
			if o.Swift != nil && o.Swift.AuthVersion == 0 {
				o.Swift.AuthVersion = defaultSwiftAuth
			}
			if o.Swift != nil && o.Swift.AuthVersion == 3 && o.Swift.Domain == "" {
				o.Swift.Domain = "Default"
			}
		}
	}
}
