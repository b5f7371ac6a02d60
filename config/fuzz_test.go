package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that it returns
// either a Config that validates or an *ErrorList whose every error names
// a line of the input.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "examples", "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(base))
	f.Add([]byte("sovereign: MC\nsites: [{name: a, twin: a}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "f.yaml")
		if err == nil {
			if errs := c.Validate(); len(errs) > 0 {
				t.Fatalf("Parse accepted a Config that Validate refuses: %v", errs)
			}
			return
		}
		var list *ErrorList
		if !errors.As(err, &list) || len(list.Errors) == 0 {
			t.Fatalf("Parse = %v, want an *ErrorList with errors", err)
		}
	})
}
