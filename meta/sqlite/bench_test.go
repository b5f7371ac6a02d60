package sqlite

import (
	"testing"

	"github.com/coffre-cloud/coffre/meta/metatest"
)

// BenchmarkStore runs metatest.Bench with group commit on (as Open does) and
// off (one transaction, so one fsync, per Update); the ratio of their
// Update/goroutines=N figures is what group commit buys.
func BenchmarkStore(b *testing.B) {
	b.Run("groupcommit=on", func(b *testing.B) {
		metatest.Bench(b, opts(defaultConfig()))
	})
	b.Run("groupcommit=off", func(b *testing.B) {
		cfg := defaultConfig()
		cfg.maxBatch = 1
		metatest.Bench(b, opts(cfg))
	})
}
