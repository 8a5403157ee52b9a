package vnfd

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Limits that keep a hostile descriptor from costing more than a real one.
const (
	maxNodeVisits = 1 << 20 // YAML nodes converted to raw values per Parse (alias bombs)
	maxDepth      = 200     // nesting depth of a raw value
	maxCount      = 1 << 30 // largest instance count / scale level accepted
	maxFiles      = 1000    // files one descriptor may import, directly or not
)

// src is one loaded YAML file of the descriptor.
type src struct {
	path string
	root *yaml.Node // mapping node, or nil for an empty document
}

// pair is one entry of a YAML mapping.
type pair struct {
	key   string
	knode *yaml.Node
	val   *yaml.Node // alias-resolved; never nil (a missing value is a null scalar)
}

var (
	yamlLineRE   = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)
	jsonNumberRE = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$`)
)

// decodeFile parses data as YAML into a node tree, turning parser errors and
// (defensively) parser panics into *Error with the line the parser names.
func decodeFile(name string, data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &Error{File: name, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	var doc yaml.Node
	if uerr := yaml.Unmarshal(data, &doc); uerr != nil {
		msg, line := uerr.Error(), 0
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			if m[1] != "" {
				line, _ = strconv.Atoi(m[1])
			}
			msg = m[2]
		}
		return nil, &Error{File: name, Line: line, Msg: "invalid YAML: " + msg}
	}
	n := deref(&doc)
	if n == nil || n.Kind == 0 || isNull(n) {
		return nil, nil // empty document
	}
	if n.Kind != yaml.MappingNode {
		return nil, &Error{File: name, Line: n.Line, Msg: "a TOSCA file must be a YAML mapping"}
	}
	return n, nil
}

// deref resolves document and alias nodes.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < 64; i++ {
		switch n.Kind {
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		case yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// ctx carries the per-Parse budget and the file being read, so helpers can
// build *Error values with the right file and line.
type ctx struct {
	visits int
}

func (c *ctx) errAt(f *src, n *yaml.Node, format string, args ...any) *Error {
	e := &Error{Msg: fmt.Sprintf(format, args...)}
	if f != nil {
		e.File = f.path
	}
	if n != nil {
		e.Line = n.Line
	}
	return e
}

// mapping returns the entries of n, which must be a mapping or null. what
// names n in error messages. Keys must be scalars and unique.
func (c *ctx) mapping(f *src, n *yaml.Node, what string) ([]pair, error) {
	n = deref(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, c.errAt(f, n, "%s: expected a mapping, got %s", what, kindName(n))
	}
	out := make([]pair, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k == nil || k.Kind != yaml.ScalarNode {
			return nil, c.errAt(f, n.Content[i], "%s: mapping keys must be scalars", what)
		}
		if k.ShortTag() == "!!merge" {
			return nil, c.errAt(f, k, "%s: YAML merge keys (<<) are not supported here", what)
		}
		if seen[k.Value] {
			return nil, c.errAt(f, k, "%s: duplicate key %q", what, k.Value)
		}
		seen[k.Value] = true
		if v == nil {
			v = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: k.Line}
		}
		out = append(out, pair{key: k.Value, knode: k, val: v})
	}
	return out, nil
}

// get returns the value of key in mapping n (nil when absent or n is not a
// mapping).
func get(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

// getKey returns the key node of key in mapping n (nil when absent).
func getKey(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return k
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// str reads a scalar as a string ("" for null or absent).
func (c *ctx) str(f *src, n *yaml.Node, what string) (string, error) {
	n = deref(n)
	if isNull(n) {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", c.errAt(f, n, "%s: expected a string, got %s", what, kindName(n))
	}
	return n.Value, nil
}

// count reads a non-negative integer (0, false for null or absent).
func (c *ctx) count(f *src, n *yaml.Node, what string) (int, bool, error) {
	n = deref(n)
	if isNull(n) {
		return 0, false, nil
	}
	if n.Kind != yaml.ScalarNode {
		return 0, false, c.errAt(f, n, "%s: expected an integer, got %s", what, kindName(n))
	}
	v, err := strconv.ParseInt(strings.TrimSpace(n.Value), 0, 64)
	if err != nil {
		return 0, false, c.errAt(f, n, "%s: expected an integer, got %q", what, n.Value)
	}
	if v < 0 || v > maxCount {
		return 0, false, c.errAt(f, n, "%s: %d is out of range [0, %d]", what, v, maxCount)
	}
	return int(v), true, nil
}

// boolean reads a YAML boolean (false for null or absent).
func (c *ctx) boolean(f *src, n *yaml.Node, what string) (bool, error) {
	n = deref(n)
	if isNull(n) {
		return false, nil
	}
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on":
			return true, nil
		case "false", "no", "off":
			return false, nil
		}
	}
	return false, c.errAt(f, n, "%s: expected a boolean, got %s", what, kindName(n))
}

// strList reads a list of scalars; a single scalar is a list of one.
func (c *ctx) strList(f *src, n *yaml.Node, what string) ([]string, error) {
	n = deref(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, c.errAt(f, n, "%s: expected a list, got %s", what, kindName(n))
	}
	var out []string
	for _, e := range n.Content {
		s, err := c.str(f, e, what)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// raw converts n to a generic value in the form encoding/json produces with
// UseNumber: map[string]any, []any, string, bool, json.Number, nil. Keeping
// raw values in this one form is what makes a parsed VNFD survive a JSON
// round trip unchanged. Timestamps and other tagged scalars stay strings.
func (c *ctx) raw(f *src, n *yaml.Node) (any, error) {
	return c.rawDepth(f, n, 0)
}

func (c *ctx) rawDepth(f *src, n *yaml.Node, depth int) (any, error) {
	c.visits++
	if c.visits > maxNodeVisits {
		return nil, c.errAt(f, n, "descriptor too large or too many aliases")
	}
	if depth > maxDepth {
		return nil, c.errAt(f, n, "value nested too deeply (or a recursive alias)")
	}
	if n == nil {
		return nil, nil
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.AliasNode:
		next := n.Alias
		if n.Kind == yaml.DocumentNode {
			if len(n.Content) == 0 {
				return nil, nil
			}
			next = n.Content[0]
		}
		return c.rawDepth(f, next, depth+1)
	case yaml.ScalarNode:
		return scalarValue(n), nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := c.rawDepth(f, e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := deref(n.Content[i])
			if k != nil && k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				merges = append(merges, n.Content[i+1])
				continue
			}
			var key string
			if k != nil && k.Kind == yaml.ScalarNode {
				key = k.Value
			} else {
				kv, err := c.rawDepth(f, k, depth+1)
				if err != nil {
					return nil, err
				}
				b, _ := json.Marshal(kv)
				key = string(b)
			}
			v, err := c.rawDepth(f, n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			out[key] = v
		}
		// Merge keys (<<: *anchor) fill in keys not set explicitly.
		for _, m := range merges {
			mv, err := c.rawDepth(f, m, depth+1)
			if err != nil {
				return nil, err
			}
			var srcs []any
			switch t := mv.(type) {
			case map[string]any:
				srcs = []any{t}
			case []any:
				srcs = t
			}
			for _, s := range srcs {
				if sm, ok := s.(map[string]any); ok {
					for k, v := range sm {
						if _, set := out[k]; !set {
							out[k] = v
						}
					}
				}
			}
		}
		return out, nil
	}
	return nil, nil
}

func scalarValue(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on", "y":
			return true
		case "false", "no", "off", "n":
			return false
		}
		return n.Value
	case "!!int":
		s := strings.ReplaceAll(n.Value, "_", "")
		if v, err := strconv.ParseInt(s, 0, 64); err == nil {
			return json.Number(strconv.FormatInt(v, 10))
		}
		if v, err := strconv.ParseUint(s, 0, 64); err == nil {
			return json.Number(strconv.FormatUint(v, 10))
		}
		if strings.HasPrefix(s, "0o") || strings.HasPrefix(s, "0O") {
			if v, err := strconv.ParseInt(s[2:], 8, 64); err == nil {
				return json.Number(strconv.FormatInt(v, 10))
			}
		}
		return n.Value
	case "!!float":
		var v float64
		if err := n.Decode(&v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return n.Value
		}
		if jsonNumberRE.MatchString(n.Value) {
			return json.Number(n.Value) // keeps "1.0" as written
		}
		return json.Number(strconv.FormatFloat(v, 'g', -1, 64))
	}
	return n.Value
}

// rawMap converts a mapping node to map[string]any (nil when empty or null).
func (c *ctx) rawMap(f *src, n *yaml.Node, what string) (map[string]any, error) {
	n = deref(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, c.errAt(f, n, "%s: expected a mapping, got %s", what, kindName(n))
	}
	v, err := c.raw(f, n)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

var sizeUnits = map[string]int64{
	"b":   1,
	"kb":  1000,
	"kib": 1 << 10,
	"mb":  1000 * 1000,
	"mib": 1 << 20,
	"gb":  1000 * 1000 * 1000,
	"gib": 1 << 30,
	"tb":  1000 * 1000 * 1000 * 1000,
	"tib": 1 << 40,
}

// parseSize reads a TOSCA scalar-unit.size ("4 GB", "512 MiB", "0 GB").
// Units are case-insensitive; a bare number is bytes.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty size")
	}
	i := strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r == '.' || r == '+')
	})
	num, unit := s, "b"
	if i >= 0 {
		num, unit = strings.TrimSpace(s[:i]), strings.ToLower(strings.TrimSpace(s[i:]))
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("unknown size unit %q", s[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("bad size %q", s)
	}
	b := v * float64(mult)
	if b > float64(math.MaxInt64/2) {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return int64(math.Round(b)), nil
}

// size reads a scalar-unit.size property: its text and its value in bytes.
func (c *ctx) size(f *src, n *yaml.Node, what string) (string, int64, error) {
	s, err := c.str(f, n, what)
	if err != nil || s == "" {
		return "", 0, err
	}
	b, perr := parseSize(s)
	if perr != nil {
		return "", 0, c.errAt(f, n, "%s: %v", what, perr)
	}
	return s, b, nil
}
