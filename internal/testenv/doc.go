// Package testenv starts the real things that tests run against: a Coffre
// server process built from ./cmd/coffre, and the environment that real S3
// clients (aws cli, rclone, s3cmd) need to talk to it.
//
// Tests that use it exercise Coffre the way an operator and a user do: a
// separate process, a data directory, root credentials from the environment,
// and clients speaking S3 over loopback. Every helper fails the test rather
// than skipping it when something is missing: `make test` installs the
// dependencies (scripts/deps.sh), so a missing one is a broken setup, not a
// reason to test less. Only slow tests may skip, and only under -short.
package testenv
