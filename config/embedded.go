package config

import "github.com/coffre-cloud/coffre/policy"

// Embedded returns the configuration `coffre serve` runs with no file: a
// complete two-site deployment on this machine under ./coffre-data.
//
// Site monaco (43.7384, 7.4246) and its twin luxembourg, at the Bissen data
// center (49.7875, 6.0656), about 680 km away: a data embassy, hosted in
// Luxembourg under Monaco's jurisdiction. Each writes to a local fs offer of
// tier internal; monaco also has an fs offer standing in for an external
// commercial cloud, under foreign law, that only low data may use. The S3
// APIs listen on 127.0.0.1:9000 (monaco) and 127.0.0.1:9001 (luxembourg).
// examples/embedded.yaml is the same configuration as a file.
//
// Each call returns a new Config that the caller may change (the --data
// and --s3-addr flags do).
func Embedded() *Config {
	c := &Config{
		Sovereign: "MC",
		Data:      DefaultData,
		Currency:  DefaultCurrency,
		Rules:     Rules{TwinMinDistanceKm: policy.DefaultTwinMinDistanceKm},
		Sites: []Site{
			{
				Name:            "monaco",
				Location:        &Location{Lat: 43.7384, Lon: 7.4246},
				Jurisdiction:    "MC",
				HostedIn:        "MC",
				Twin:            "luxembourg",
				S3Address:       "127.0.0.1:9000",
				IdentityAddress: "127.0.0.1:9100",
				Metadata:        Metadata{SQLite: "sites/monaco/meta.db"},
				Keys:            Keys{Keyring: "sites/monaco/keyring"},
				Offers:          []string{"monaco-local", "external-local"},
			},
			{
				Name:         "luxembourg",
				Location:     &Location{Lat: 49.7875, Lon: 6.0656},
				Jurisdiction: "MC",
				HostedIn:     "LU",
				Twin:         "monaco",
				S3Address:    "127.0.0.1:9001",
				Metadata:     Metadata{SQLite: "sites/luxembourg/meta.db"},
				Keys:         Keys{Keyring: "sites/luxembourg/keyring"},
				Offers:       []string{"luxembourg-local"},
			},
		},
		Offers: []Offer{
			{
				Name:            "monaco-local",
				Backend:         BackendFS,
				Tier:            policy.Internal,
				Jurisdiction:    "MC",
				HostedIn:        "MC",
				Location:        &Location{Lat: 43.7384, Lon: 7.4246},
				PricePerGBMonth: 0.05,
				FS:              &FSOffer{Path: "sites/monaco/offers/local"},
			},
			{
				Name:            "luxembourg-local",
				Backend:         BackendFS,
				Tier:            policy.Internal,
				Jurisdiction:    "MC",
				HostedIn:        "LU",
				Location:        &Location{Lat: 49.7875, Lon: 6.0656},
				PricePerGBMonth: 0.05,
				FS:              &FSOffer{Path: "sites/luxembourg/offers/local"},
			},
			{
				Name:            "external-local",
				Backend:         BackendFS,
				Tier:            policy.External,
				Jurisdiction:    "US",
				HostedIn:        "IE",
				Location:        &Location{Lat: 53.3498, Lon: -6.2603},
				PricePerGBMonth: 0.02,
				FS:              &FSOffer{Path: "sites/monaco/offers/external"},
			},
		},
	}
	c.setDefaults()
	return c
}
