//go:build race

package crypt

// raceEnabled: the race detector makes sync.Pool drop items, so allocation
// counts mean nothing under it.
const raceEnabled = true
