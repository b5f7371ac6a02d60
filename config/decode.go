package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/coffre-cloud/coffre/policy"
)

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// Parse parses a configuration, fills its defaults and validates it. name
// is the file name the errors mention. On any mistake it returns a nil
// Config and an *ErrorList of every error found, sorted by line: unknown
// or repeated fields, values of the wrong type, and everything Validate
// finds.
func Parse(data []byte, name string) (*Config, error) {
	d := &decoder{pos: map[string]position{}, bad: map[string]bool{}}
	c := &Config{}
	if root := d.document(data); root != nil {
		d.decode(root, reflect.ValueOf(c).Elem(), "")
	}
	errs := d.errs
	if len(errs) == 0 || d.decoded {
		c.pos, c.partial = d.pos, len(errs) > 0
		c.setDefaults()
		for _, e := range c.Validate() {
			if !d.covers(e.Field) {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, &ErrorList{File: name, Errors: errs}
	}
	return c, nil
}

// position is where a value was read.
type position struct{ line, col int }

// decoder fills a Config from a YAML node tree, field by field, so that it
// knows the line of every value and can report every mistake rather than
// the first.
type decoder struct {
	errs    []Error
	pos     map[string]position // where each path was read
	bad     map[string]bool     // paths whose value could not be decoded
	decoded bool                // the document was read (no syntax error)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data into the root mapping node, or records why not.
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) || (err == nil && len(doc.Content) == 0) {
		d.errs = append(d.errs, Error{Line: 1, Column: 1, Message: "the configuration is empty", Fix: "start from one of the files in examples/"})
		return nil
	}
	if err != nil {
		e := Error{Message: strings.TrimPrefix(err.Error(), "yaml: "), Fix: "correct the YAML syntax (indent with spaces, one key: value per line)"}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Column = 1
			e.Message = m[2]
		}
		d.errs = append(d.errs, e)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errs = append(d.errs, Error{Line: extra.Line, Column: extra.Column, Message: "a second YAML document", Fix: "keep one document: remove the '---' line and what follows, or merge them"})
	} else if !errors.Is(err, io.EOF) {
		d.errs = append(d.errs, Error{Message: strings.TrimPrefix(err.Error(), "yaml: ")})
	}
	d.decoded = true
	return doc.Content[0]
}

func (d *decoder) fail(n *yaml.Node, path, fix, format string, args ...any) {
	d.errs = append(d.errs, Error{Line: n.Line, Column: n.Column, Field: path, Message: fmt.Sprintf(format, args...), Fix: fix})
	d.bad[path] = true
}

// covers reports whether a decoding error was reported at path or at a
// path containing it, so that Validate does not report it again.
func (d *decoder) covers(path string) bool {
	for p := path; p != ""; p = parent(p) {
		if d.bad[p] {
			return true
		}
	}
	return false
}

// parent returns the path of the field or list containing path: "a.b[2]"
// for "a.b[2].c", "a.b" for "a.b[2]", "" for "a".
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var (
	tierType        = reflect.TypeFor[policy.Tier]()
	sensitivityType = reflect.TypeFor[policy.Sensitivity]()
	sizeType        = reflect.TypeFor[Size]()
)

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return fmt.Sprintf("%q", n.Value)
}

// decode stores n into v.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		d.fail(n, path, "write the value out in full", "YAML aliases (*%s) are not supported in coffre.yaml", n.Value)
		return
	}
	d.pos[path] = position{n.Line, n.Column}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // left out: the zero value, or the default
	}
	switch v.Type() {
	case tierType, sensitivityType, sizeType:
		d.scalar(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, fmt.Sprintf("write a list: [%s] or one '- item' per line", n.Value), "expected a list, found %s", describe(n))
			return
		}
		list := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, list.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(list)
	case reflect.Map:
		d.mapping(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

// field is a struct field as the file names it.
type field struct {
	name     string
	index    int
	required bool
}

func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		tag, ok := t.Field(i).Tag.Lookup("yaml")
		if !ok || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		out = append(out, field{name: name, index: i, required: opts == "required"})
	}
	return out
}

// secretHints explains where the secrets that a key of the file would
// hold go instead, for keys that are or contain these words.
var secretHints = []struct{ word, hint string }{
	{"password", "give it to the server in its environment: PGPASSWORD or ~/.pgpass for PostgreSQL, key_env for Swift, secret_key_env for S3"},
	{"secret", "give it to the server in its environment and name the variable (secret_key_env, key_env)"},
	{"pin", "set COFFRE_PKCS11_PIN or COFFRE_PKCS11_PIN_FILE in the server's environment"},
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "write one 'field: value' per line under it", "expected a mapping, found %s", describe(n))
		return
	}
	fields := fieldsOf(v.Type())
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "a key is a plain word", "a key that is %s", describe(k))
			continue
		}
		fp := join(path, k.Value)
		if k.Value == "<<" {
			d.fail(k, fp, "write the fields out in full", "YAML merge keys are not supported in coffre.yaml")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k, fp, "keep one of them", "set twice (first on line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		j := -1
		for fi, f := range fields {
			if f.name == k.Value {
				j = fi
			}
		}
		if j < 0 {
			d.unknown(k, fp, names)
			continue
		}
		d.decode(val, v.Field(fields[j].index), fp)
	}
	for _, f := range fields {
		if _, ok := seen[f.name]; f.required && !ok {
			d.fail(n, join(path, f.name), fmt.Sprintf("add %s: VALUE", f.name), "missing")
		}
	}
}

// aliases are other names for fields, as other tools spell them.
var aliases = map[string]string{
	"tenant":       "project", // Keystone v2's name for a v3 project
	"tenant_name":  "project",
	"project_name": "project",
	"username":     "user",
	"user_name":    "user",
	"auth":         "auth_url",
	"url":          "endpoint",
	"bucket_name":  "bucket",
	"latitude":     "lat",
	"longitude":    "lon",
	"lng":          "lon",
	"long":         "lon",
	"country":      "hosted_in",
	"law":          "jurisdiction",
	"price":        "price_per_gb_month",
	"address":      "s3_address",
	"s3_addr":      "s3_address",
	"twins":        "twin",
	"dsn":          "postgres",
}

func (d *decoder) unknown(k *yaml.Node, path string, names []string) {
	key := strings.ToLower(k.Value)
	for _, n := range names {
		if n == key+"_env" {
			d.fail(k, path, fmt.Sprintf("put it in an environment variable of the server and write %s: VARIABLE_NAME", n), "secrets never go in coffre.yaml")
			d.bad[path+"_env"] = true // one mistake: not also "missing"
			return
		}
	}
	for _, h := range secretHints {
		if key == h.word || (h.word != "pin" && strings.Contains(key, h.word)) {
			d.fail(k, path, h.hint, "secrets never go in coffre.yaml")
			return
		}
	}
	fix := "the fields here are " + strings.Join(names, ", ")
	if s := aliases[key]; slices.Contains(names, s) {
		fix = "did you mean " + s + "?"
	} else if s := suggest(k.Value, names); s != "" {
		fix = "did you mean " + s + "?"
	}
	d.fail(k, path, fix, "unknown field %q", k.Value)
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "write one 'key: value' per line under it", "expected a mapping, found %s", describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		fp := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.fail(k, fp, "keep one of them", "set twice (first on line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		key := reflect.New(v.Type().Key()).Elem()
		if !d.scalar(k, key, fp) {
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, fp)
		v.SetMapIndex(key, elem)
	}
}

// scalar stores the single value n into v and reports whether it could.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) bool {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "write a single value", "expected a single value, found %s", describe(n))
		return false
	}
	s := n.Value
	switch v.Type() {
	case tierType:
		t, err := policy.ParseTier(s)
		if err != nil {
			d.fail(n, path, "use internal, dedicated or external", "%q is not a tier", s)
			return false
		}
		v.Set(reflect.ValueOf(t))
		return true
	case sensitivityType:
		sens, err := policy.ParseSensitivity(s)
		if err != nil || s == "" {
			d.fail(n, path, "use high, medium or low", "%q is not a sensitivity", s)
			return false
		}
		v.Set(reflect.ValueOf(sens))
		return true
	case sizeType:
		size, err := ParseSize(s)
		if err != nil {
			d.fail(n, path, "write a number of bytes, or a number with a unit: 500GB, 10TiB", "%v", err)
			return false
		}
		v.Set(reflect.ValueOf(size))
		return true
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		switch strings.ToLower(s) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.fail(n, path, "use true or false", "%q is not true or false", s)
			return false
		}
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
		if err != nil {
			d.fail(n, path, "write a whole number, such as 1000000", "%q is not a whole number", s)
			return false
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(n, path, "write a number, such as 0.023", "%q is not a number", s)
			return false
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("config: no decoding for %v", v.Type()))
	}
	return true
}
