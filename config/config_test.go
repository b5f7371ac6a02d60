package config

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/policy"
)

func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d example files in ../examples, want at least 3", len(files))
	}
	for _, f := range files {
		t.Run("file="+filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatalf("Load:\n%v", err)
			}
			if errs := c.Validate(); len(errs) > 0 {
				t.Fatalf("Validate after Load: %v", errs)
			}
		})
	}
}

func TestEmbeddedIsTheExampleFile(t *testing.T) {
	c, err := Load(filepath.Join("..", "examples", "embedded.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c.pos = nil
	if e := Embedded(); !reflect.DeepEqual(c, e) {
		t.Fatalf("examples/embedded.yaml and Embedded() differ:\n file %+v\n code %+v", c, e)
	}
}

func TestEmbedded(t *testing.T) {
	c := Embedded()
	if errs := c.Validate(); len(errs) > 0 {
		t.Fatalf("Embedded().Validate() = %v", errs)
	}
	mc, lu := c.Site("monaco"), c.Site("luxembourg")
	if mc == nil || lu == nil || len(c.Sites) != 2 {
		t.Fatalf("sites %+v, want monaco and luxembourg", c.Sites)
	}
	if got, want := mc.Location.LatLon(), (policy.LatLon{Lat: 43.7384, Lon: 7.4246}); got != want {
		t.Errorf("monaco at %v, want %v", got, want)
	}
	if got, want := lu.Location.LatLon(), (policy.LatLon{Lat: 49.7875, Lon: 6.0656}); got != want {
		t.Errorf("luxembourg at %v, want %v", got, want)
	}
	if lu.Jurisdiction != "MC" || lu.HostedIn != "LU" {
		t.Errorf("luxembourg under %s hosted in %s, want a data embassy: MC hosted in LU", lu.Jurisdiction, lu.HostedIn)
	}
	if c.Twin("monaco") != lu || c.Twin("luxembourg") != mc {
		t.Errorf("monaco and luxembourg are not each other's twins")
	}
	if d := policy.Distance(mc.Location.LatLon(), lu.Location.LatLon()); math.Abs(d-680.5) > 1 {
		t.Errorf("monaco-luxembourg %.1f km, want about 680", d)
	}
	if mc.S3Address != "127.0.0.1:9000" || lu.S3Address != "127.0.0.1:9001" || c.Data != "coffre-data" {
		t.Errorf("S3 on %s and %s, data in %s; want 127.0.0.1:9000, 127.0.0.1:9001 and coffre-data", mc.S3Address, lu.S3Address, c.Data)
	}
	for _, tc := range []struct {
		site    string
		s       policy.Sensitivity
		chosen  string
		allowed []string
	}{
		{"monaco", policy.High, "monaco-local", []string{"monaco-local"}},
		{"monaco", policy.Medium, "monaco-local", []string{"monaco-local"}},
		{"monaco", policy.Low, "monaco-local", []string{"monaco-local", "external-local"}},
		{"luxembourg", policy.High, "luxembourg-local", []string{"luxembourg-local"}},
	} {
		d, err := c.Place(tc.site, "any-tenant", tc.s)
		if err != nil {
			t.Fatalf("Place(%s, %v): %v", tc.site, tc.s, err)
		}
		var allowed []string
		for _, o := range d.Allowed {
			allowed = append(allowed, o.Name)
		}
		if d.Chosen.Name != tc.chosen || !slices.Equal(allowed, tc.allowed) {
			t.Errorf("Place(%s, %v) = %s among %v, want %s among %v", tc.site, tc.s, d.Chosen.Name, allowed, tc.chosen, tc.allowed)
		}
	}
	c.Sites[0].Name = "changed"
	if Embedded().Sites[0].Name != "monaco" {
		t.Fatal("Embedded returned a shared Config: a caller's change leaked into the next call")
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(`sovereign: FR
sites:
  - name: paris
    location: {lat: 48.8566, lon: 2.3522}
    jurisdiction: FR
    twin: lyon
    offers: [paris-fs]
  - name: lyon
    location: {lat: 45.7640, lon: 4.8357}
    jurisdiction: FR
    offers: [lyon-swift]
offers:
  - name: paris-fs
    backend: fs
    tier: internal
    jurisdiction: FR
  - name: lyon-swift
    backend: swift
    tier: internal
    jurisdiction: FR
    swift: {auth_url: "https://keystone.example.org/v3", user: coffre, key_env: SWIFT_KEY, project: coffre, container: coffre}
`), "defaults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ what, got, want string }{
		{"data", c.Data, "coffre-data"},
		{"currency", c.Currency, "EUR"},
		{"twin distance", fmt.Sprint(c.Rules.TwinMinDistanceKm), "120"},
		{"first S3 address", c.Sites[0].S3Address, "127.0.0.1:9000"},
		{"second S3 address", c.Sites[1].S3Address, "127.0.0.1:9001"},
		{"metadata", c.Sites[0].Metadata.SQLite, "sites/paris/meta.db"},
		{"keyring", c.Sites[1].Keys.Keyring, "sites/lyon/keyring"},
		{"site hosted_in", c.Sites[0].HostedIn, "FR"},
		{"offer hosted_in", c.Offers[0].HostedIn, "FR"},
		{"fs path", c.Offers[0].FS.Path, "offers/paris-fs"},
		{"resolved fs path", c.Path(c.Offers[0].FS.Path), "coffre-data/offers/paris-fs"},
		{"absolute path", c.Path("/srv/x"), "/srv/x"},
		{"swift auth version", fmt.Sprint(c.Offers[1].Swift.AuthVersion), "3"},
		{"swift domain", c.Offers[1].Swift.Domain, "Default"},
		{"lyon's twin", c.Twin("lyon").Name, "paris"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.what, tc.got, tc.want)
		}
	}
}

// base is a small valid configuration; each case of TestErrors changes it.
const base = `sovereign: MC
sites:
  - name: monaco
    location: {lat: 43.7384, lon: 7.4246}
    jurisdiction: MC
    twin: luxembourg
    offers: [monaco-fs]
  - name: luxembourg
    location: {lat: 49.7875, lon: 6.0656}
    jurisdiction: MC
    hosted_in: LU
    offers: [lux-fs]
offers:
  - name: monaco-fs
    backend: fs
    tier: internal
    jurisdiction: MC
  - name: lux-fs
    backend: fs
    tier: internal
    jurisdiction: MC
    hosted_in: LU
`

func TestBaseIsValid(t *testing.T) {
	if _, err := Parse([]byte(base), "base.yaml"); err != nil {
		t.Fatal(err)
	}
}

// edit applies replacements (old, new, old, new...) to base, each of
// which must match once.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := base
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.Count(s, pairs[i]) != 1 {
			t.Fatalf("%q does not occur exactly once in the base configuration", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

const extraOffer = `  - name: aws
    backend: s3
    tier: external
    jurisdiction: US
    hosted_in: FR
    s3: {region: eu-west-3, bucket: coffre-low, access_key_env: AWS_ACCESS_KEY_ID, secret_key_env: AWS_SECRET_ACCESS_KEY}
`

// withAWS adds the external offer aws to site monaco, then applies
// replacements to the result.
func withAWS(t *testing.T, pairs ...string) string {
	t.Helper()
	s := edit(t, "offers: [monaco-fs]", "offers: [monaco-fs, aws]") + extraOffer
	for i := 0; i+1 < len(pairs); i += 2 {
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string // every error, located, in order
	}{
		{"syntax", "sovereign: MC\nsites:\n  - name: [monaco\n", []string{
			`c.yaml:2:1: did not find expected ',' or ']' (fix: correct the YAML syntax (indent with spaces, one key: value per line))`}},
		{"empty", "# nothing\n", []string{
			`c.yaml:1:1: the configuration is empty (fix: start from one of the files in examples/)`}},
		{"two-documents", base + "---\nsovereign: FR\n", []string{
			`c.yaml:23:1: a second YAML document (fix: keep one document: remove the '---' line and what follows, or merge them)`}},
		{"unknown-field-typo", edit(t, "    hosted_in: LU\n    offers", "    hosted-in: LU\n    offers"), []string{
			`c.yaml:11:5: sites[1].hosted-in: unknown field "hosted-in" (fix: did you mean hosted_in?)`}},
		{"unknown-field-far", edit(t, "sovereign: MC", "sovereign: MC\ncolour: blue"), []string{
			`c.yaml:2:1: colour: unknown field "colour" (fix: the fields here are sovereign, data, currency, rules, sites, offers, tenants)`}},
		{"repeated-field", edit(t, "sovereign: MC", "sovereign: MC\nsovereign: FR"), []string{
			`c.yaml:2:1: sovereign: set twice (first on line 1) (fix: keep one of them)`}},
		{"tier-typo", edit(t, "    tier: internal\n    jurisdiction: MC\n    hosted_in: LU", "    tier: extrnal\n    jurisdiction: MC\n    hosted_in: LU"), []string{
			`c.yaml:20:11: offers[1].tier: "extrnal" is not a tier (fix: use internal, dedicated or external)`}},
		{"tier-missing", edit(t, "    tier: internal\n    jurisdiction: MC\n    hosted_in: LU", "    jurisdiction: MC\n    hosted_in: LU"), []string{
			`c.yaml:18:5: offers[1].tier: missing (fix: add tier: internal, dedicated or external)`}},
		{"list-expected", edit(t, "offers: [lux-fs]", "offers: lux-fs"), []string{
			`c.yaml:12:13: sites[1].offers: expected a list, found "lux-fs" (fix: write a list: [lux-fs] or one '- item' per line)`}},
		{"mapping-expected", edit(t, "location: {lat: 49.7875, lon: 6.0656}", "location: 49.7875,6.0656"), []string{
			`c.yaml:9:15: sites[1].location: expected a mapping, found "49.7875,6.0656" (fix: write one 'field: value' per line under it)`}},
		{"latitude-missing", edit(t, "location: {lat: 49.7875, lon: 6.0656}", "location: {lon: 6.0656}"), []string{
			`c.yaml:9:15: sites[1].location.lat: missing (fix: add lat: VALUE)`}},
		{"latitude-out-of-range", edit(t, "location: {lat: 49.7875, lon: 6.0656}", "location: {lat: 97.5, lon: 6.0656}"), []string{
			`c.yaml:9:21: sites[1].location.lat: 97.5 is not a latitude (fix: a latitude is within -90 and 90 degrees)`}},
		{"location-missing", edit(t, "    location: {lat: 49.7875, lon: 6.0656}\n", ""), []string{
			`c.yaml:8:5: sites[1].location: missing (fix: add location: {lat: 43.7384, lon: 7.4246} (decimal degrees))`}},
		{"number-expected", base + "rules: {twin_min_distance_km: far}\n", []string{
			`c.yaml:23:31: rules.twin_min_distance_km: "far" is not a number (fix: write a number, such as 0.023)`}},
		{"alias", edit(t, "    location: {lat: 43.7384, lon: 7.4246}", "    location: &mc {lat: 43.7384, lon: 7.4246}", "location: {lat: 49.7875, lon: 6.0656}", "location: *mc"), []string{
			`c.yaml:9:15: sites[1].location: YAML aliases (*mc) are not supported in coffre.yaml (fix: write the value out in full)`}},
		{"jurisdiction-lower-case", edit(t, "sovereign: MC", "sovereign: mc"), []string{
			`c.yaml:1:12: sovereign: "mc" is not an ISO 3166 alpha-2 country code (fix: write it in capitals: MC)`}},
		{"jurisdiction-uk", edit(t, "    hosted_in: LU\n    offers", "    hosted_in: UK\n    offers"), []string{
			`c.yaml:11:16: sites[1].hosted_in: "UK" is not an ISO 3166 alpha-2 country code (fix: use GB, the ISO 3166 code of the United Kingdom)`}},
		{"jurisdiction-missing", edit(t, "sovereign: MC\n", ""), []string{
			`c.yaml:1:1: sovereign: missing (fix: write the ISO 3166 alpha-2 code of the State whose law applies, such as FR)`}},
		{"secret-in-file", withAWS(t) + "    secret_key: abcd\n", []string{
			`c.yaml:29:5: offers[2].secret_key: secrets never go in coffre.yaml (fix: give it to the server in its environment and name the variable (secret_key_env, key_env))`}},
		{"secret-in-s3", withAWS(t, "secret_key_env: AWS_SECRET_ACCESS_KEY", "secret_key: abcd"), []string{
			`c.yaml:28:84: offers[2].s3.secret_key: secrets never go in coffre.yaml (fix: put it in an environment variable of the server and write secret_key_env: VARIABLE_NAME)`}},
		{"access-key-in-env-field", withAWS(t, "AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"), []string{
			`c.yaml:28:65: offers[2].s3.access_key_env: this looks like an access key, not the name of an environment variable (fix: put the key in an environment variable of the server and name the variable here, such as COFFRE_S3_ACCESS_KEY)`}},
		{"password-in-dsn", edit(t, "    offers: [lux-fs]", "    offers: [lux-fs]\n    metadata: {postgres: \"host=db user=coffre password=x\"}"), []string{
			`c.yaml:13:26: sites[1].metadata.postgres: secrets never go in coffre.yaml (fix: remove the password: give it to the server in PGPASSWORD or ~/.pgpass)`}},
		{"pin-in-file", edit(t, "    offers: [lux-fs]", "    offers: [lux-fs]\n    keys: {pkcs11: {module: /usr/lib/softhsm/libsofthsm2.so, token: t, pin: 1234}}"), []string{
			`c.yaml:13:72: sites[1].keys.pkcs11.pin: secrets never go in coffre.yaml (fix: set COFFRE_PKCS11_PIN or COFFRE_PKCS11_PIN_FILE in the server's environment)`}},
		{"two-metadata-stores", edit(t, "    offers: [lux-fs]", "    offers: [lux-fs]\n    metadata: {sqlite: m.db, postgres: \"host=db\"}"), []string{
			`c.yaml:13:15: sites[1].metadata: both sqlite and postgres (fix: keep one: sqlite for one gateway, postgres for several)`}},
		{"backend-typo", edit(t, "backend: fs\n    tier: internal\n    jurisdiction: MC\n    hosted_in: LU", "backend: swfit\n    tier: internal\n    jurisdiction: MC\n    hosted_in: LU"), []string{
			`c.yaml:19:14: offers[1].backend: "swfit" is not a backend (fix: did you mean swift?)`}},
		{"backend-settings-mismatch", base + "    s3: {region: x}\n", []string{
			`c.yaml:23:9: offers[1].s3: settings for backend s3 on an offer of backend fs (fix: remove it, or set backend: s3)`}},
		{"swift-tempauth-project", edit(t, "offers: [monaco-fs]", "offers: [monaco-fs, emb]") + `  - name: emb
    backend: swift
    tier: internal
    jurisdiction: MC
    swift: {auth_url: "https://swift.example/auth/v1.0", auth_version: 1, user: "a:b", key_env: K, project: p, container: c}
`, []string{
			`c.yaml:27:109: offers[2].swift.project: a project with tempauth (fix: remove it: tempauth (auth_version 1) has no projects)`}},
		{"fs-directory-shared", base + "    fs: {path: offers/monaco-fs}\n", []string{
			`c.yaml:23:16: offers[1].fs.path: offers/monaco-fs is already the directory of offer monaco-fs (fix: give each fs offer its own directory)`}},
		{"offer-unknown", edit(t, "offers: [lux-fs]", "offers: [lux-f]"), []string{
			`c.yaml:12:14: sites[1].offers[0]: no offer named "lux-f" (fix: did you mean lux-fs?)`}},
		{"offer-name-twice", edit(t, "  - name: lux-fs", "  - name: monaco-fs"), []string{
			`c.yaml:12:14: sites[1].offers[0]: no offer named "lux-fs" (fix: declare it under offers:)`,
			`c.yaml:18:11: offers[1].name: offer "monaco-fs" is declared twice (first at offers[0].name) (fix: give each offer its own name)`}},
		{"offer-shared-by-twins", edit(t, "offers: [lux-fs]", "offers: [lux-fs, monaco-fs]"), []string{
			`c.yaml:12:13: sites[1].offers: offer monaco-fs is at both luxembourg and its twin monaco: a copy on the same offer is no copy (fix: give each twin its own offers)`}},
		{"loopback-address-twice", edit(t, "    offers: [monaco-fs]", "    offers: [monaco-fs]\n    s3_address: 127.0.0.1:9001"), []string{
			`c.yaml:9:5: sites[1].s3_address: 127.0.0.1:9001 is already used by sites[0].s3_address (fix: give each service of this machine its own port)`}},
		{"relaxation", base + "rules:\n  tiers: {high: [internal, dedicated]}\n  twin_required: {high: false}\n", []string{
			`c.yaml:24:17: rules.tiers.high: tier dedicated would relax the doctrine, which allows internal for high data; rules may only be made stricter (fix: list some of internal, or leave it out)`,
			`c.yaml:25:25: rules.twin_required.high: high data always needs a twin site; rules may only be made stricter (fix: remove it: a twin is always required for high data)`}},
		{"sensitivity-typo", base + "rules:\n  tiers: {hihg: [internal]}\n", []string{
			`c.yaml:24:11: rules.tiers.hihg: "hihg" is not a sensitivity (fix: use high, medium or low)`}},
		{"no-internal-offer-for-high", edit(t, "    tier: internal\n    jurisdiction: MC\n    hosted_in: LU", "    tier: dedicated\n    jurisdiction: MC\n    hosted_in: LU"), []string{
			`c.yaml:12:13: sites[1].offers: site luxembourg: no offer allowed for bucket sensitivity high: [1] offer lux-fs is tier dedicated; bucket sensitivity high requires internal (fix: add to this site an offer of tier internal under MC jurisdiction)`}},
		{"internal-offer-under-foreign-law", edit(t, "    tier: internal\n    jurisdiction: MC\n    hosted_in: LU", "    tier: internal\n    jurisdiction: LU\n    hosted_in: LU"), []string{
			`c.yaml:12:13: sites[1].offers: site luxembourg: no offer allowed for bucket sensitivity high: [1] offer lux-fs is under LU jurisdiction (hosted in LU); bucket sensitivity high requires MC jurisdiction (fix: add to this site an offer of tier internal under MC jurisdiction)`,
			`c.yaml:12:13: sites[1].offers: site luxembourg: no offer allowed for bucket sensitivity medium: [1] offer lux-fs is under LU jurisdiction (hosted in LU); bucket sensitivity medium requires MC jurisdiction (fix: add to this site an offer of tier internal or dedicated under MC jurisdiction)`}},
		{"no-twin", edit(t, "    twin: luxembourg\n", ""), []string{
			`c.yaml:3:5: sites[0].twin: site monaco has no twin site; bucket sensitivity high requires one at least 120 km away under MC jurisdiction (fix: declare a twin site at least 120 km away under MC jurisdiction and write twin: NAME)`,
			`c.yaml:7:5: sites[1].twin: site luxembourg has no twin site; bucket sensitivity high requires one at least 120 km away under MC jurisdiction (fix: declare a twin site at least 120 km away under MC jurisdiction and write twin: NAME)`}},
		{"twin-typo", edit(t, "twin: luxembourg", "twin: luxemburg"), []string{
			`c.yaml:6:11: sites[0].twin: no site named "luxemburg" (fix: did you mean luxembourg?)`}},
		{"twin-too-close", edit(t, "location: {lat: 49.7875, lon: 6.0656}", "location: {lat: 43.9, lon: 7.5}"), []string{
			`c.yaml:6:11: sites[0].twin: site monaco is 18.960 km from its twin luxembourg; bucket sensitivity high requires at least 120 km (fix: choose a twin at least 120 km away, or correct the locations)`}},
		{"twin-under-host-law", edit(t, "    jurisdiction: MC\n    hosted_in: LU\n    offers", "    jurisdiction: LU\n    hosted_in: LU\n    offers"), []string{
			`c.yaml:10:19: sites[1].jurisdiction: site monaco has its twin luxembourg under LU jurisdiction; bucket sensitivity high requires MC jurisdiction (fix: a twin holds high data: it must be under MC jurisdiction (a data embassy abroad keeps it), or choose another twin)`}},
		{"twin-stricter-distance", base + "rules: {twin_min_distance_km: 1000}\n", []string{
			`c.yaml:6:11: sites[0].twin: site monaco is 680.517 km from its twin luxembourg; bucket sensitivity high requires at least 1000 km (fix: choose a twin at least 1000 km away, or correct the locations)`}},
		{"twin-unknown", edit(t, "    hosted_in: LU\n    offers", "    hosted_in: LU\n    twin: paris\n    offers"), []string{
			`c.yaml:12:11: sites[1].twin: no site named "paris" (fix: declare that site under sites:)`}},
		{"twins-not-mutual", edit(t, "    hosted_in: LU\n    offers", "    hosted_in: LU\n    twin: paris\n    offers",
			"offers:\n  - name: monaco-fs", "  - {name: paris, location: {lat: 48.8566, lon: 2.3522}, jurisdiction: MC, offers: [paris-fs]}\noffers:\n  - {name: paris-fs, backend: fs, tier: internal, jurisdiction: MC}\n  - name: monaco-fs"), []string{
			`c.yaml:12:11: sites[1].twin: site luxembourg names twin paris, but it is the twin of monaco (fix: write twin: monaco, or leave twin out: twins are mutual)`}},
		{"twin-taken", edit(t, "offers:\n  - name: monaco-fs", "  - {name: paris, location: {lat: 48.8566, lon: 2.3522}, jurisdiction: MC, twin: luxembourg, offers: [paris-fs]}\noffers:\n  - {name: paris-fs, backend: fs, tier: internal, jurisdiction: MC}\n  - name: monaco-fs"), []string{
			`c.yaml:13:82: sites[2].twin: site luxembourg is already the twin of monaco (fix: a site has one twin: pair the sites two by two)`}},
		{"tenant-choice-refused", withAWS(t) + "tenants:\n  - name: health\n    choose: {high: aws, low: aws}\n", []string{
			`c.yaml:31:20: tenants[0].choose.high: offer aws is tier external; bucket sensitivity high requires internal (fix: choose one allowed for high (monaco-fs, lux-fs), or leave it out to let Coffre choose)`}},
		{"tenant-choice-elsewhere", withAWS(t) + "tenants:\n  - name: health\n    offers: [monaco-fs, lux-fs]\n    choose: {low: aws}\n", []string{
			`c.yaml:32:19: tenants[0].choose.low: offer aws is not among the tenant's offers (fix: add it to this tenant's offers, or choose one of them)`}},
		{"tenant-without-high-offer", withAWS(t) + "tenants:\n  - name: culture\n    offers: [aws, lux-fs]\n", []string{
			`c.yaml:31:13: tenants[0].offers: tenant culture at site monaco: no offer allowed for bucket sensitivity high: [1] offer aws is tier external; bucket sensitivity high requires internal (fix: add to this tenant's offers an offer of tier internal under MC jurisdiction at site monaco)`,
			`c.yaml:31:13: tenants[0].offers: tenant culture at site monaco: no offer allowed for bucket sensitivity medium: [1] offer aws is tier external; bucket sensitivity medium requires internal or dedicated (fix: add to this tenant's offers an offer of tier internal or dedicated under MC jurisdiction at site monaco)`}},
		{"tenant-name", base + "tenants:\n  - name: Ministry_X\n    quota: {bytes: 10 TB, objects: -1}\n", []string{
			`c.yaml:24:11: tenants[0].name: "Ministry_X" is not a valid tenant name (fix: use 2 to 63 characters a-z, 0-9 and '-', starting with a letter or digit)`,
			`c.yaml:25:36: tenants[0].quota.objects: a negative quota (fix: write 0 (no limit) or more)`}},
		{"quota-size", base + "tenants:\n  - name: health\n    quota: {bytes: lots}\n", []string{
			`c.yaml:25:20: tenants[0].quota.bytes: "lots" is not a size (fix: write a number of bytes, or a number with a unit: 500GB, 10TiB)`}},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), "c.yaml")
			var list *ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse = %v, %v; want an *ErrorList", c, err)
			}
			if c != nil {
				t.Fatalf("Parse returned a Config with errors")
			}
			var got []string
			for _, e := range list.Errors {
				got = append(got, e.Located("c.yaml"))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("errors:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tc.want, "\n     "))
			}
		})
	}
}

func TestTwinDistanceBoundary(t *testing.T) {
	for _, tc := range []struct {
		km   float64
		want string // "" when valid
	}{
		{120, ""},
		{120.001, ""},
		{119.999, "site monaco is 119.999 km from its twin luxembourg; bucket sensitivity high requires at least 120 km"},
	} {
		t.Run(fmt.Sprintf("km=%g", tc.km), func(t *testing.T) {
			lat := 45 + tc.km/policy.EarthRadiusKm*180/math.Pi
			yaml := edit(t,
				"location: {lat: 43.7384, lon: 7.4246}", "location: {lat: 45, lon: 5}",
				"location: {lat: 49.7875, lon: 6.0656}", fmt.Sprintf("location: {lat: %.17g, lon: 5}", lat))
			_, err := Parse([]byte(yaml), "c.yaml")
			var list *ErrorList
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.want != "" && !errors.As(err, &list):
				t.Fatalf("Parse = %v, want the twin refused", err)
			case tc.want != "" && (len(list.Errors) != 1 || list.Errors[0].Message != tc.want):
				t.Fatalf("Parse:\n%v\nwant the one error %q", err, tc.want)
			}
		})
	}
}

func TestErrorFormats(t *testing.T) {
	e := Error{Line: 14, Column: 11, Field: "offers[2].tier", Message: `"extrnal" is not a tier`, Fix: "use internal, dedicated or external"}
	if got, want := e.Error(), `offers[2].tier: "extrnal" is not a tier (line 14); use internal, dedicated or external`; got != want {
		t.Errorf("Error() = %s, want %s", got, want)
	}
	if got, want := e.Located("coffre.yaml"), `coffre.yaml:14:11: offers[2].tier: "extrnal" is not a tier (fix: use internal, dedicated or external)`; got != want {
		t.Errorf("Located() = %s, want %s", got, want)
	}
	e = Error{Field: "sovereign", Message: "missing"}
	if got, want := e.Error(), "sovereign: missing"; got != want {
		t.Errorf("Error() without position = %s, want %s", got, want)
	}
	if got, want := e.Located("f"), "f: sovereign: missing"; got != want {
		t.Errorf("Located() without position = %s, want %s", got, want)
	}
}

func TestErrorsSortedByLine(t *testing.T) {
	yaml := edit(t,
		"sovereign: MC", "sovereign: MC\ncurrency: euro",
		"    tier: internal\n    jurisdiction: MC\n    hosted_in: LU", "    tier: nope\n    jurisdiction: MC\n    hosted_in: LU",
		"twin: luxembourg", "twin: luxembourg\n    colour: red",
	) + "tenants:\n  - name: X\n"
	_, err := Parse([]byte(yaml), "c.yaml")
	var list *ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Parse = %v", err)
	}
	var lines []int
	for _, e := range list.Errors {
		lines = append(lines, e.Line)
	}
	if want := []int{2, 8, 22, 26}; !slices.Equal(lines, want) {
		t.Fatalf("errors on lines %v, want %v:\n%v", lines, want, err)
	}
}

func TestValidateBuiltInCode(t *testing.T) {
	c := Embedded()
	c.Offers[0].Tier = policy.External
	c.Sites[1].Location = nil
	var got []string
	for _, e := range c.Validate() {
		if e.Line != 0 {
			t.Errorf("error %v has a line, but the Config was not read from a file", e)
		}
		got = append(got, e.Located("embedded"))
	}
	want := []string{
		"embedded: sites[0].offers: site monaco: no offer allowed for bucket sensitivity high: [1] offer monaco-local is tier external; bucket sensitivity high requires internal; [2] offer external-local is tier external; bucket sensitivity high requires internal (fix: add to this site an offer of tier internal under MC jurisdiction)",
		"embedded: sites[0].offers: site monaco: no offer allowed for bucket sensitivity medium: [1] offer monaco-local is tier external; bucket sensitivity medium requires internal or dedicated; [2] offer external-local is tier external; bucket sensitivity medium requires internal or dedicated (fix: add to this site an offer of tier internal or dedicated under MC jurisdiction)",
		"embedded: sites[1].location: missing (fix: add location: {lat: 43.7384, lon: 7.4246} (decimal degrees))",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Validate:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func TestConfigPlace(t *testing.T) {
	c, err := Parse([]byte(withAWS(t)+"tenants:\n  - name: open-data\n    choose: {low: aws}\n  - name: health\n    offers: [monaco-fs, lux-fs]\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		site, tenant string
		s            policy.Sensitivity
		chosen       string
		byChoice     bool
		rejected     int
	}{
		{"monaco", "open-data", policy.Low, "aws", true, 0},
		{"monaco", "open-data", policy.High, "monaco-fs", false, 1},
		{"luxembourg", "open-data", policy.Low, "lux-fs", false, 0}, // its choice is not at this site
		{"monaco", "health", policy.Low, "monaco-fs", false, 0},     // aws is not among its offers
		{"monaco", "created-at-run-time", policy.Low, "monaco-fs", false, 0},
	} {
		d, err := c.Place(tc.site, tc.tenant, tc.s)
		if err != nil || d.Chosen.Name != tc.chosen || d.ByChoice != tc.byChoice || len(d.Rejected) != tc.rejected {
			t.Errorf("Place(%s, %s, %v) = %s (by choice %v, %d rejected), %v; want %s (by choice %v, %d rejected)",
				tc.site, tc.tenant, tc.s, d.Chosen.Name, d.ByChoice, len(d.Rejected), err, tc.chosen, tc.byChoice, tc.rejected)
		}
	}
	if _, err := c.Place("paris", "health", policy.High); err == nil {
		t.Error("Place at an unknown site succeeded")
	}
}

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
	}{
		{"0", 0}, {"1000000", 1000000}, {"1_000", 1000}, {"500GB", 500e9}, {"10TiB", 10 << 40},
		{"1.5 PB", 1.5e15}, {"2 KiB", 2048}, {"7B", 7}, {"3kB", 3000},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "lots", "-1", "-2GB", "GB", "1e30 EiB", "NaN"} {
		if got, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", bad, got)
		}
	}
	for s, want := range map[Size]string{10 << 40: "10TiB", 1536: "1536", 2048: "2KiB", 1000: "1000", 0: "0"} {
		if got := s.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(s), got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	fields := []string{"name", "backend", "tier", "jurisdiction", "hosted_in", "price_per_gb_month"}
	for word, want := range map[string]string{
		"nme": "name", "backnd": "backend", "teir": "tier", "juridiction": "jurisdiction",
		"hostedIn": "hosted_in", "hosted-in": "hosted_in", "price": "", "colour": "", "Tier": "tier",
	} {
		if got := suggest(word, fields); got != want {
			t.Errorf("suggest(%q) = %q, want %q", word, got, want)
		}
	}
}
