package sqlite

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/coffre-cloud/coffre/meta"
	"github.com/coffre-cloud/coffre/meta/metatest"
)

// paths remembers the file of each store the tests open, for Reopen.
var paths sync.Map // meta.Store -> string

func opts(cfg config) metatest.Opts {
	return metatest.Opts{
		New: func(tb testing.TB) meta.Store {
			return openTest(tb, filepath.Join(tb.TempDir(), "meta.db"), cfg)
		},
		Reopen: func(tb testing.TB, old meta.Store) meta.Store {
			path, ok := paths.LoadAndDelete(old)
			if !ok {
				tb.Fatalf("Reopen: unknown store %p", old)
			}
			if err := old.Close(); err != nil {
				tb.Fatalf("Close: %v", err)
			}
			return openTest(tb, path.(string), cfg)
		},
	}
}

func openTest(tb testing.TB, path string, cfg config) *Store {
	tb.Helper()
	s, err := open(path, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	paths.Store(meta.Store(s), path)
	return s
}

func TestConformance(t *testing.T) {
	metatest.Run(t, opts(defaultConfig()))
}

// TestConformanceNoGroupCommit runs the suite with one Update per
// transaction, the path a lone Update takes.
func TestConformanceNoGroupCommit(t *testing.T) {
	cfg := defaultConfig()
	cfg.maxBatch = 1
	metatest.Run(t, opts(cfg))
}
