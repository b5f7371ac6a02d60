// Package config reads coffre.yaml: the sovereign jurisdiction, the rules,
// the sites and their twins, the offers (with their backends' settings) and
// the tenants with their choices and quotas. It is how an operator tells
// Coffre what package policy should enforce, and the typed value that
// cmd/coffre wires the components from.
//
// Load and Parse read a file through the YAML node tree, so that every
// error carries its line and column; they report every error, not the
// first: unknown fields (with a suggestion when one is close), values of
// the wrong type, references to nothing, secrets written where only the
// name of an environment variable may be, and every placement, twin and
// jurisdiction rule of package policy, checked by Validate at load time. A
// configuration that loads can place every sensitivity of every tenant at
// every site, and every site has a twin far enough under the sovereign's
// law. Embedded is the default deployment that `coffre serve` runs with no
// file; examples/ holds it and two others as commented files.
//
// Relative paths (fs offers, SQLite databases, keyrings) are relative to
// the data directory, so that --data moves a whole deployment. Secrets
// never appear in the file: S3 and Swift credentials, PostgreSQL passwords
// and HSM PINs come from the server's environment.
package config
