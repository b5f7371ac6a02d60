package remote

import "time"

// OrDefault returns v, or def when v is zero: the defaults of the tuning
// fields of a backend's Config.
func OrDefault[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}
