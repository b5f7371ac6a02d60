package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/coffre-cloud/coffre/policy"
)

// Validate returns every mistake of c, sorted by line: missing or
// malformed fields, names that refer to nothing, secrets where only the
// name of an environment variable may be, and every rule of package
// policy:
//
//   - rules only tighten the doctrine;
//   - every site can place every sensitivity on its offers (so high data
//     has an internal offer under the sovereign's jurisdiction);
//   - every site has a twin far enough and under the sovereign's
//     jurisdiction, since any site may hold high data (an unlabeled
//     bucket is high);
//   - every tenant's choices are allowed for their sensitivity, and every
//     tenant can place every sensitivity at every site.
//
// Validate expects the defaults filled in as Parse and Embedded do; on a
// Config built in code, zero values stand for the defaults.
func (c *Config) Validate() []Error {
	v := &validator{c: c, r: c.PolicyRules(), broken: map[string]bool{}}
	v.top()
	v.rules()
	v.offers()
	v.sites()
	v.twins()
	v.tenants()
	sortErrors(v.errs)
	return v.errs
}

type validator struct {
	c    *Config
	r    policy.Rules
	errs []Error
	// broken holds the offers whose own fields the rules judge (name,
	// tier, jurisdiction) are wrong: placements involving them are not
	// judged, so that one mistake is reported once.
	broken map[string]bool
}

// judged reports whether the placement rules can be applied: the sovereign
// is valid, and so is every offer that candidates names.
func (v *validator) judged(candidates []policy.Offer) bool {
	if !policy.ValidJurisdiction(v.c.Sovereign) {
		return false
	}
	for _, o := range candidates {
		if v.broken[o.Name] {
			return false
		}
	}
	return true
}

// at returns the position of path, or of the nearest enclosing field that
// was read from the file.
func (c *Config) at(path string) position {
	for p := path; ; p = parent(p) {
		if pos, ok := c.pos[p]; ok {
			return pos
		}
		if p == "" {
			return position{}
		}
	}
}

func (v *validator) add(path, fix, format string, args ...any) {
	p := v.c.at(path)
	v.errs = append(v.errs, Error{Line: p.line, Column: p.col, Field: path, Message: fmt.Sprintf(format, args...), Fix: fix})
}

var (
	// nameRE is the rule of tenant names in the vault, applied to sites
	// and offers too: they appear in paths, metrics and messages.
	nameRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	envRE       = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	accessKeyRE = regexp.MustCompile(`^(AKIA|ASIA)[A-Z0-9]{16}$`)
	currencyRE  = regexp.MustCompile(`^[A-Z]{3}$`)
	bucketRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// name checks the name of a site, offer or tenant and that it is unique.
func (v *validator) name(path, kind, name string, seen map[string]string) {
	switch {
	case name == "":
		v.add(path, "add name: NAME", "missing")
		return
	case !nameRE.MatchString(name):
		v.add(path, "use 2 to 63 characters a-z, 0-9 and '-', starting with a letter or digit", "%q is not a valid %s name", name, kind)
	}
	if first, dup := seen[name]; dup {
		v.add(path, "give each "+kind+" its own name", "%s %q is declared twice (first at %s)", kind, name, first)
		return
	}
	seen[name] = path
}

// jurisdiction checks an ISO 3166 code.
func (v *validator) jurisdiction(path, code string, required bool) {
	upper := strings.ToUpper(strings.TrimSpace(code))
	switch {
	case code == "":
		if required {
			v.add(path, "write the ISO 3166 alpha-2 code of the State whose law applies, such as FR", "missing")
		}
	case policy.ValidJurisdiction(code):
	case policy.ValidJurisdiction(upper):
		v.add(path, "write it in capitals: "+upper, "%q is not an ISO 3166 alpha-2 country code", code)
	case upper == "EU":
		v.add(path, "the EU is not a State: list the codes of its member States (AT, BE, BG, CY, CZ, DE, DK, EE, ES, FI, FR, GR, HR, HU, IE, IT, LT, LU, LV, MT, NL, PL, PT, RO, SE, SI, SK)", "%q is not an ISO 3166 alpha-2 country code", code)
	case upper == "UK":
		v.add(path, "use GB, the ISO 3166 code of the United Kingdom", "%q is not an ISO 3166 alpha-2 country code", code)
	default:
		v.add(path, "use a two-letter ISO 3166 code such as MC, FR or LU", "%q is not an ISO 3166 alpha-2 country code", code)
	}
}

func (v *validator) location(path string, l *Location, required bool) {
	if l == nil {
		if required {
			v.add(path, "add location: {lat: 43.7384, lon: 7.4246} (decimal degrees)", "missing")
		}
		return
	}
	if l.Lat < -90 || l.Lat > 90 || math.IsNaN(l.Lat) {
		v.add(path+".lat", "a latitude is within -90 and 90 degrees", "%g is not a latitude", l.Lat)
	}
	if l.Lon < -180 || l.Lon > 180 || math.IsNaN(l.Lon) {
		v.add(path+".lon", "a longitude is within -180 and 180 degrees", "%g is not a longitude", l.Lon)
	}
}

// env checks the name of an environment variable holding a secret.
func (v *validator) env(path, name, example string) {
	switch {
	case name == "":
		v.add(path, fmt.Sprintf("name the environment variable that holds the secret: %s: %s", filepath.Base(strings.ReplaceAll(path, ".", "/")), example), "missing")
	case accessKeyRE.MatchString(name):
		v.add(path, fmt.Sprintf("put the key in an environment variable of the server and name the variable here, such as %s", example), "this looks like an access key, not the name of an environment variable")
	case !envRE.MatchString(name):
		v.add(path, fmt.Sprintf("name an environment variable (capitals, digits, '_'), such as %s; the secret itself never goes in the file", example), "%q is not the name of an environment variable", name)
	}
}

// address checks HOST:PORT.
func (v *validator) address(path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err == nil {
		var p int
		if p, err = strconv.Atoi(port); err == nil && (p < 1 || p > 65535) {
			err = errors.New("bad port")
		}
	}
	if err != nil || strings.ContainsAny(host, "/ ") {
		v.add(path, "write HOST:PORT, such as 127.0.0.1:9000 or :9000", "%q is not an address", addr)
	}
}

func (v *validator) url(path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(path, "write a URL such as https://keystone.example.org:5000/v3", "%q is not an http or https URL", raw)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) top() {
	v.jurisdiction("sovereign", v.c.Sovereign, true)
	if cur := v.c.Currency; cur != "" && !currencyRE.MatchString(cur) {
		v.add("currency", "use an ISO 4217 code such as EUR", "%q is not a currency code", cur)
	}
	if len(v.c.Sites) == 0 {
		v.add("sites", "declare a site and its twin under sites:", "no site")
	}
	if len(v.c.Offers) == 0 {
		v.add("offers", "declare at least an internal offer under offers:", "no offer")
	}
}

func (v *validator) rules() {
	r := v.c.Rules
	for _, list := range []struct {
		path  string
		codes []string
	}{{"rules.medium_jurisdictions", r.MediumJurisdictions}, {"rules.low_jurisdictions", r.LowJurisdictions}} {
		seen := map[string]bool{}
		for i, code := range list.codes {
			p := fmt.Sprintf("%s[%d]", list.path, i)
			v.jurisdiction(p, code, true)
			if seen[code] {
				v.add(p, "list it once", "%s is listed twice", code)
			}
			seen[code] = true
		}
	}
	for _, e := range v.r.Check() {
		switch e.Setting {
		case "sovereign", "medium_jurisdictions", "low_jurisdictions":
			continue // checked above, with positions
		}
		path := "rules." + e.Setting
		if e.Key != "" {
			path += "." + e.Key
		}
		fix := ""
		switch e.Setting {
		case "twin_min_distance_km":
			fix = fmt.Sprintf("use %g or more, or leave it out", policy.DefaultTwinMinDistanceKm)
		case "twin_required":
			fix = "remove it: a twin is always required for high data"
		case "tiers":
			s, _ := policy.ParseSensitivity(e.Key)
			fix = "list some of " + strings.Join(tierNames(policy.DoctrineTiers(s)), ", ") + ", or leave it out"
		}
		v.add(path, fix, "%s", e.Reason)
	}
}

func tierNames(ts []policy.Tier) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

func (v *validator) offers() {
	seen := map[string]string{}
	listed := map[string]bool{}
	refsOK := true // a mistyped name in a site's offers is not an unlisted offer
	fsPaths := map[string]string{}
	for _, s := range v.c.Sites {
		for _, name := range s.Offers {
			listed[name] = true
		}
		refsOK = refsOK && v.resolves(s.Offers)
	}
	for i := range v.c.Offers {
		o := &v.c.Offers[i]
		p := fmt.Sprintf("offers[%d]", i)
		v.name(p+".name", "offer", o.Name, seen)
		switch o.Backend {
		case BackendFS, BackendS3, BackendSwift:
		case "":
			v.add(p+".backend", "add backend: fs, s3 or swift", "missing")
		default:
			fix := "use fs, s3 or swift"
			if s := suggest(o.Backend, []string{BackendFS, BackendS3, BackendSwift}); s != "" {
				fix = "did you mean " + s + "?"
			}
			v.add(p+".backend", fix, "%q is not a backend", o.Backend)
		}
		for _, b := range []struct {
			name string
			set  bool
		}{{BackendFS, o.FS != nil}, {BackendS3, o.S3 != nil}, {BackendSwift, o.Swift != nil}} {
			if b.set && b.name != o.Backend && o.Backend != "" {
				v.add(p+"."+b.name, fmt.Sprintf("remove it, or set backend: %s", b.name), "settings for backend %s on an offer of backend %s", b.name, o.Backend)
			}
		}
		switch o.Backend {
		case BackendFS:
			if o.FS == nil || o.FS.Path == "" {
				v.add(p+".fs.path", "add fs: {path: DIR}", "missing")
				break
			}
			dir := filepath.Clean(v.c.Path(o.FS.Path))
			if first, dup := fsPaths[dir]; dup && first != o.Name { // same name: reported as such
				v.add(p+".fs.path", "give each fs offer its own directory", "%s is already the directory of offer %s", o.FS.Path, first)
			}
			fsPaths[dir] = o.Name
		case BackendS3:
			v.s3(p+".s3", o.S3)
		case BackendSwift:
			v.swift(p+".swift", o.Swift)
		}
		if o.Tier == 0 {
			v.add(p+".tier", "add tier: internal, dedicated or external", "missing")
		} else if !o.Tier.Valid() {
			v.add(p+".tier", "use internal, dedicated or external", "%v is not a tier", o.Tier)
		}
		v.jurisdiction(p+".jurisdiction", o.Jurisdiction, true)
		v.jurisdiction(p+".hosted_in", o.HostedIn, false)
		v.location(p+".location", o.Location, false)
		if o.Name == "" || !nameRE.MatchString(o.Name) || !o.Tier.Valid() || !policy.ValidJurisdiction(o.Jurisdiction) {
			v.broken[o.Name] = true
		}
		if o.PricePerGBMonth < 0 || math.IsNaN(o.PricePerGBMonth) {
			v.add(p+".price_per_gb_month", "write the price of a GB stored for a month, 0 or more", "%g is not a price", o.PricePerGBMonth)
		}
		certs := map[string]bool{}
		for j, cert := range o.Certifications {
			cp := fmt.Sprintf("%s.certifications[%d]", p, j)
			switch {
			case strings.TrimSpace(cert) == "":
				v.add(cp, "remove it", "an empty certification")
			case certs[strings.ToLower(cert)]:
				v.add(cp, "list it once", "%s is listed twice", cert)
			}
			certs[strings.ToLower(cert)] = true
		}
		if o.Name != "" && len(v.c.Sites) > 0 && refsOK && !v.c.partial && !listed[o.Name] {
			v.add(p+".name", "add it to the offers of a site, or remove it", "offer %s is listed by no site", o.Name)
		}
	}
}

func (v *validator) s3(p string, s *S3Offer) {
	if s == nil {
		v.add(p, "add s3: {endpoint: URL, region: REGION, bucket: NAME, access_key_env: VAR, secret_key_env: VAR}", "missing")
		return
	}
	if s.Endpoint != "" {
		v.url(p+".endpoint", s.Endpoint)
	}
	if s.Region == "" {
		v.add(p+".region", "add region: the provider's region (us-east-1 where it has none)", "missing")
	}
	switch {
	case s.Bucket == "":
		v.add(p+".bucket", "add bucket: NAME, an existing bucket of the provider", "missing")
	case !bucketRE.MatchString(s.Bucket):
		v.add(p+".bucket", "use 3 to 63 characters a-z, 0-9, '.' and '-'", "%q is not an S3 bucket name", s.Bucket)
	}
	v.env(p+".access_key_env", s.AccessKeyEnv, "COFFRE_S3_ACCESS_KEY")
	v.env(p+".secret_key_env", s.SecretKeyEnv, "COFFRE_S3_SECRET_KEY")
	if s.AccessKeyEnv != "" && s.AccessKeyEnv == s.SecretKeyEnv {
		v.add(p+".secret_key_env", "name two different variables", "the same variable as access_key_env")
	}
}

func (v *validator) swift(p string, s *SwiftOffer) {
	if s == nil {
		v.add(p, "add swift: {auth_url: URL, user: USER, key_env: VAR, project: PROJECT, container: NAME}", "missing")
		return
	}
	if s.AuthURL == "" {
		v.add(p+".auth_url", "add auth_url: the Keystone (or tempauth) URL", "missing")
	} else {
		v.url(p+".auth_url", s.AuthURL)
	}
	switch s.AuthVersion {
	case 0, 1, 3:
	case 2:
		v.add(p+".auth_version", "use 3 (Keystone v3)", "Keystone v2 is retired")
	default:
		v.add(p+".auth_version", "use 3 (Keystone v3) or 1 (tempauth)", "%d is not an auth version", s.AuthVersion)
	}
	if s.User == "" {
		v.add(p+".user", "add user: the Swift user (ACCOUNT:USER for tempauth)", "missing")
	}
	v.env(p+".key_env", s.KeyEnv, "COFFRE_SWIFT_KEY")
	if s.AuthVersion == 1 {
		if s.Project != "" {
			v.add(p+".project", "remove it: tempauth (auth_version 1) has no projects", "a project with tempauth")
		}
		if s.Domain != "" {
			v.add(p+".domain", "remove it: tempauth (auth_version 1) has no domains", "a domain with tempauth")
		}
	} else if s.Project == "" {
		v.add(p+".project", "add project: the Keystone project that owns the container", "missing")
	}
	switch {
	case s.Container == "":
		v.add(p+".container", "add container: NAME", "missing")
	case strings.Contains(s.Container, "/") || len(s.Container) > 256:
		v.add(p+".container", "use at most 256 characters and no '/'", "%q is not a Swift container name", s.Container)
	}
}

func (v *validator) sites() {
	seen := map[string]string{}
	loopback := map[string]string{}
	offerNames := make([]string, len(v.c.Offers))
	for i, o := range v.c.Offers {
		offerNames[i] = o.Name
	}
	for i := range v.c.Sites {
		s := &v.c.Sites[i]
		p := fmt.Sprintf("sites[%d]", i)
		v.name(p+".name", "site", s.Name, seen)
		v.location(p+".location", s.Location, true)
		v.jurisdiction(p+".jurisdiction", s.Jurisdiction, true)
		v.jurisdiction(p+".hosted_in", s.HostedIn, false)
		for _, a := range []struct{ field, addr string }{{"s3_address", s.S3Address}, {"identity_address", s.IdentityAddress}} {
			if a.addr == "" {
				continue
			}
			v.address(p+"."+a.field, a.addr)
			if host, _, err := net.SplitHostPort(a.addr); err == nil && isLoopback(host) {
				if first, dup := loopback[a.addr]; dup {
					v.add(p+"."+a.field, "give each service of this machine its own port", "%s is already used by %s", a.addr, first)
				}
				loopback[a.addr] = p + "." + a.field
			}
		}
		switch m := s.Metadata; {
		case m.SQLite != "" && m.Postgres != "":
			v.add(p+".metadata", "keep one: sqlite for one gateway, postgres for several", "both sqlite and postgres")
		case m.Postgres != "" && dsnHasPassword(m.Postgres):
			v.add(p+".metadata.postgres", "remove the password: give it to the server in PGPASSWORD or ~/.pgpass", "secrets never go in coffre.yaml")
		}
		switch k := s.Keys; {
		case k.Keyring != "" && k.PKCS11 != nil:
			v.add(p+".keys", "keep one: keyring or pkcs11", "both keyring and pkcs11")
		case k.PKCS11 != nil:
			if !filepath.IsAbs(k.PKCS11.Module) {
				v.add(p+".keys.pkcs11.module", "write the absolute path of the PKCS#11 library, such as /usr/lib/softhsm/libsofthsm2.so", "%q is not an absolute path", k.PKCS11.Module)
			}
			if k.PKCS11.Token == "" {
				v.add(p+".keys.pkcs11.token", "add token: LABEL", "missing")
			}
		}
		if len(s.Offers) == 0 {
			v.add(p+".offers", "list the offers this site writes to: offers: [NAME, ...]", "no offer")
		}
		listed := map[string]bool{}
		for j, name := range s.Offers {
			op := fmt.Sprintf("%s.offers[%d]", p, j)
			switch {
			case v.c.Offer(name) == nil:
				v.add(op, didYouMean(name, offerNames, "declare it under offers:"), "no offer named %q", name)
			case listed[name]:
				v.add(op, "list it once", "%s is listed twice", name)
			}
			listed[name] = true
		}
		if len(s.Offers) > 0 && s.Name != "" {
			v.placement(p+".offers", s.Name, "", "add to this site an offer of %s")
		}
	}
}

// placement checks that tenant (the default tenant when "") can place
// every sensitivity at site.
func (v *validator) placement(path, site, tenant, fix string) {
	if !v.judged(v.c.Candidates(site, tenant)) || !v.resolves(v.c.Site(site).Offers) {
		return
	}
	if t := v.c.Tenant(tenant); t != nil && !v.resolves(t.Offers) {
		return
	}
	for _, s := range policy.Sensitivities {
		_, err := v.c.Place(site, tenant, s)
		var pe *policy.PlacementError
		if errors.As(err, &pe) {
			who := "site " + site
			if tenant != "" {
				who = "tenant " + tenant + " at site " + site
			}
			v.add(path, fmt.Sprintf(fix, v.r.Requirement(s)), "%s: %v", who, err)
		}
	}
}

// resolves reports whether every name in names is an offer, so that a
// mistyped name is reported once rather than as a missing placement.
func (v *validator) resolves(names []string) bool {
	for _, name := range names {
		if v.c.Offer(name) == nil {
			return false
		}
	}
	return true
}

func didYouMean(word string, candidates []string, otherwise string) string {
	if s := suggest(word, candidates); s != "" {
		return "did you mean " + s + "?"
	}
	return otherwise
}

func dsnHasPassword(dsn string) bool {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		_, set := u.User.Password()
		return set || u.Query().Has("password")
	}
	for _, kv := range strings.Fields(dsn) {
		if k, _, ok := strings.Cut(kv, "="); ok && strings.TrimSpace(k) == "password" {
			return true
		}
	}
	return false
}

// twins checks that twins are mutual and unique, and the twin rule of
// high data for every site.
func (v *validator) twins() {
	sites := v.c.Sites
	siteNames := make([]string, len(sites))
	index := map[string]int{}
	for i, s := range sites {
		siteNames[i] = s.Name
		if _, dup := index[s.Name]; !dup {
			index[s.Name] = i
		}
	}
	twinOf := map[string]string{} // site -> its twin, declared or implied
	pairsOK := true               // every twin names a site, pairwise
	for i, s := range sites {
		p := fmt.Sprintf("sites[%d].twin", i)
		t, ok := index[s.Twin]
		switch {
		case s.Twin == "":
			continue
		case s.Twin == s.Name:
			v.add(p, "name another site at least "+fmt.Sprint(v.r.TwinMinDistance())+" km away", "a site cannot be its own twin")
			pairsOK = false
			continue
		case !ok:
			v.add(p, didYouMean(s.Twin, siteNames, "declare that site under sites:"), "no site named %q", s.Twin)
			pairsOK = false
			continue
		}
		if other, taken := twinOf[s.Twin]; taken && other != s.Name {
			v.add(p, "a site has one twin: pair the sites two by two", "site %s is already the twin of %s", s.Twin, other)
			pairsOK = false
			continue
		}
		if back := sites[t].Twin; back != "" && back != s.Name && v.c.Site(back) != nil {
			v.add(fmt.Sprintf("sites[%d].twin", t), fmt.Sprintf("write twin: %s, or leave twin out: twins are mutual", s.Name), "site %s names twin %s, but it is the twin of %s", s.Twin, back, s.Name)
			pairsOK = false
		}
		if prev, taken := twinOf[s.Name]; taken && prev != s.Twin {
			continue // reported on the other side
		}
		twinOf[s.Name], twinOf[s.Twin] = s.Twin, s.Name
	}
	reported := map[string]bool{}
	for i := range sites {
		s := &sites[i]
		if !pairsOK || s.Name == "" || s.Location == nil || !policy.ValidJurisdiction(v.c.Sovereign) {
			continue
		}
		var twin policy.Site
		tname := twinOf[s.Name]
		if t := v.c.Site(tname); t != nil {
			if t.Location == nil {
				continue
			}
			twin = t.Policy(s.Name)
		}
		p := fmt.Sprintf("sites[%d]", i)
		minKm := v.r.TwinMinDistance()
		for _, ref := range policy.TwinRefusals(v.r, policy.High, s.Policy(tname), twin) {
			switch ref.Rule {
			case policy.RuleTwin:
				v.add(p+".twin", fmt.Sprintf("declare a twin site at least %g km away under %s jurisdiction and write twin: NAME", minKm, v.c.Sovereign), "%v", &ref)
			case policy.RuleTwinDistance:
				pair := min(s.Name, tname) + "\x00" + max(s.Name, tname)
				if reported[pair] {
					continue
				}
				reported[pair] = true
				path := p + ".twin"
				if s.Twin == "" {
					path = fmt.Sprintf("sites[%d].twin", index[tname])
				}
				v.add(path, fmt.Sprintf("choose a twin at least %g km away, or correct the locations", minKm), "%v", &ref)
			case policy.RuleTwinJurisdiction:
				if policy.ValidJurisdiction(twin.Jurisdiction) {
					v.add(fmt.Sprintf("sites[%d].jurisdiction", index[tname]), fmt.Sprintf("a twin holds high data: it must be under %s jurisdiction (a data embassy abroad keeps it), or choose another twin", v.c.Sovereign), "%v", &ref)
				}
			default:
				v.add(p, "", "%v", &ref)
			}
		}
	}
	for i := range sites {
		s := &sites[i]
		t := v.c.Site(twinOf[s.Name])
		if t == nil || s.Name > t.Name {
			continue // each pair once
		}
		for _, name := range s.Offers {
			if slices.Contains(t.Offers, name) {
				v.add(fmt.Sprintf("sites[%d].offers", i), "give each twin its own offers", "offer %s is at both %s and its twin %s: a copy on the same offer is no copy", name, s.Name, t.Name)
			}
		}
	}
}

func (v *validator) tenants() {
	seen := map[string]string{}
	offerNames := make([]string, len(v.c.Offers))
	for i, o := range v.c.Offers {
		offerNames[i] = o.Name
	}
	for i := range v.c.Tenants {
		t := &v.c.Tenants[i]
		p := fmt.Sprintf("tenants[%d]", i)
		v.name(p+".name", "tenant", t.Name, seen)
		listed := map[string]bool{}
		for j, name := range t.Offers {
			op := fmt.Sprintf("%s.offers[%d]", p, j)
			switch {
			case v.c.Offer(name) == nil:
				v.add(op, didYouMean(name, offerNames, "declare it under offers:"), "no offer named %q", name)
			case listed[name]:
				v.add(op, "list it once", "%s is listed twice", name)
			}
			listed[name] = true
		}
		choiceOK := true
		for _, s := range policy.Sensitivities {
			name, ok := t.Choose[s]
			if !ok {
				continue
			}
			cp := fmt.Sprintf("%s.choose.%s", p, s)
			o := v.c.Offer(name)
			switch {
			case !s.Valid():
				v.add(cp, "use high, medium or low", "%v is not a sensitivity", s)
			case name == "":
				v.add(cp, "name an offer, or leave it out to let Coffre choose", "missing")
			case o == nil:
				v.add(cp, didYouMean(name, offerNames, "declare it under offers:"), "no offer named %q", name)
			case len(t.Offers) > 0 && !listed[name]:
				v.add(cp, "add it to this tenant's offers, or choose one of them", "offer %s is not among the tenant's offers", name)
			case !v.judged([]policy.Offer{o.Policy()}):
			default:
				if err := policy.Evaluate(v.r, s, o.Policy()); err != nil {
					v.add(cp, v.allowedFix(s, t), "%v", err)
				}
				continue
			}
			choiceOK = false
		}
		if t.Quota.Bytes < 0 {
			v.add(p+".quota.bytes", "write 0 (no limit) or more", "a negative quota")
		}
		if t.Quota.Objects < 0 {
			v.add(p+".quota.objects", "write 0 (no limit) or more", "a negative quota")
		}
		if t.Name == "" || !choiceOK {
			continue
		}
		for _, s := range v.c.Sites {
			if s.Name != "" && len(t.Offers) > 0 {
				v.placement(p+".offers", s.Name, t.Name, "add to this tenant's offers an offer of %s at site "+s.Name)
			}
		}
	}
}

// allowedFix lists the offers a tenant may choose for a sensitivity.
func (v *validator) allowedFix(s policy.Sensitivity, t *Tenant) string {
	var ok []string
	for _, o := range v.c.Offers {
		if len(t.Offers) > 0 && !slices.Contains(t.Offers, o.Name) {
			continue
		}
		if policy.Evaluate(v.r, s, o.Policy()) == nil {
			ok = append(ok, o.Name)
		}
	}
	if len(ok) == 0 {
		return fmt.Sprintf("add an offer of %s, or leave it out", v.r.Requirement(s))
	}
	return fmt.Sprintf("choose one allowed for %s (%s), or leave it out to let Coffre choose", s, strings.Join(ok, ", "))
}
