package remotetest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/backendtest"
)

// Open opens a store of cfg with open (s3.Open, swift.Open), or fails the
// test, and closes it when the test ends.
func Open[C any, S io.Closer](tb testing.TB, open func(context.Context, C) (S, error), cfg C) S {
	tb.Helper()
	s, err := open(tb.Context(), cfg)
	if err != nil {
		tb.Fatalf("Open = %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Opts are the backendtest options of stores opened by open, each on a
// fresh configuration of config that change, unless nil, alters.
func Opts[C any, S backend.Store](config func(testing.TB) C, open func(testing.TB, C) S, change func(*C)) backendtest.Opts {
	return backendtest.Opts{
		New: func(tb testing.TB) backend.Store {
			c := config(tb)
			if change != nil {
				change(&c)
			}
			return open(tb, c)
		},
	}
}

// A Variant is a configuration that the conformance suite runs on.
type Variant[C any] struct {
	Name   string   // of the subtest, key=value
	Change func(*C) // alters the fresh configuration of each store
}

// Conformance runs backendtest.Run on each variant, in subtests that run
// in parallel with each other only (tests that stop the server run apart).
func Conformance[C any, S backend.Store](t *testing.T, config func(testing.TB) C, open func(testing.TB, C) S, variants []Variant[C]) {
	for _, v := range variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			backendtest.Run(t, Opts(config, open, v.Change))
		})
	}
}

// An OpenError is a configuration that Open must refuse.
type OpenError[C any] struct {
	Name     string   // of the subtest, key=value
	Change   func(*C) // makes the fresh configuration wrong
	Auth     bool     // the error wraps the backend's ErrAuth
	Contains []string // the message says these
}

// OpenErrors checks that open refuses each configuration, within 10
// seconds, with an error that wraps errAuth (or not) as the case says,
// and a message that says what to check.
func OpenErrors[C any, S io.Closer](t *testing.T, config func(testing.TB) C, open func(context.Context, C) (S, error), errAuth error, cases []OpenError[C]) {
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			cfg := config(t)
			tt.Change(&cfg)
			start := time.Now()
			s, err := open(t.Context(), cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open = nil, want an error")
			}
			t.Logf("Open = %v", err)
			if time.Since(start) > 10*time.Second {
				t.Errorf("Open took %v to fail", time.Since(start))
			}
			if got := errors.Is(err, errAuth); got != tt.Auth {
				t.Errorf("Open = %v; errors.Is(err, ErrAuth) = %v, want %v", err, got, tt.Auth)
			}
			for _, s := range tt.Contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Open = %v; want the message to say %q", err, s)
				}
			}
		})
	}
}
