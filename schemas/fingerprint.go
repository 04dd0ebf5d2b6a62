package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CanonicalForm returns the Parsing Canonical Form of an Avro schema as the
// Avro specification defines it, the input of the single-object encoding's
// fingerprint.
//
// goavro and python-avro 1.11 compute it differently for logical types: they
// keep {"type":"long"} for {"type":"long","logicalType":"timestamp-millis"}
// (goavro issue #174), so their fingerprints disagree with Java's
// SchemaNormalization, the reference that consumers use. Here [STRIP] removes
// every attribute but type, name, fields, symbols, items, values and size,
// which leaves {"type":"long"}, and [PRIMITIVES] then writes it as "long".
//
// Names are checked against the specification's name grammar, so the output
// never needs JSON escapes and [STRINGS] holds by construction.
func CanonicalForm(schemaJSON string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(schemaJSON))
	dec.UseNumber() // [INTEGERS] needs the size literal as written
	var schema any
	if err := dec.Decode(&schema); err != nil {
		return "", fmt.Errorf("parse schema json: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return "", errors.New("parse schema json: trailing data after the schema")
	}
	c := canonicalizer{defined: make(map[string]bool)}
	if err := c.write(schema, ""); err != nil {
		return "", fmt.Errorf("canonical form: %w", err)
	}
	return c.out.String(), nil
}

// Fingerprint64 is the CRC-64-AVRO (Rabin) fingerprint of canonical, as the
// Avro specification defines it. The single-object header stores it
// little-endian.
//
// The 2 KiB table is built per call rather than kept in a package variable:
// the function runs once per Encoder, after a schema parse that costs far
// more, and the package stays free of global state.
func Fingerprint64(canonical []byte) uint64 {
	const empty = 0xc15d213aa4d7a795
	var table [256]uint64
	for i := range table {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (empty & -(fp & 1))
		}
		table[i] = fp
	}
	fp := uint64(empty)
	for _, b := range canonical {
		fp = (fp >> 8) ^ table[byte(fp)^b]
	}
	return fp
}

type canonicalizer struct {
	out bytes.Buffer
	// defined holds the full names of named types already written: a later
	// mention is written as the bare full name, as [FULLNAMES] requires and
	// as recursive types need.
	defined map[string]bool
}

func isPrimitive(name string) bool {
	switch name {
	case "null", "boolean", "int", "long", "float", "double", "bytes", "string":
		return true
	}
	return false
}

// write emits schema s, where ns is the enclosing namespace ("" for none).
func (c *canonicalizer) write(s any, ns string) error {
	switch s := s.(type) {
	case string:
		return c.writeRef(s, ns)
	case []any:
		c.out.WriteByte('[')
		for i, branch := range s {
			if i > 0 {
				c.out.WriteByte(',')
			}
			if err := c.write(branch, ns); err != nil {
				return fmt.Errorf("union branch %d: %w", i, err)
			}
		}
		c.out.WriteByte(']')
		return nil
	case map[string]any:
		return c.writeObject(s, ns)
	default:
		return fmt.Errorf("schema is a JSON %T, want a string, array or object", s)
	}
}

func (c *canonicalizer) writeRef(name, ns string) error {
	if isPrimitive(name) {
		c.writeString(name)
		return nil
	}
	full, err := fullName(name, ns)
	if err != nil {
		return err
	}
	if !c.defined[full] {
		// Java falls back to the null namespace for an unqualified name not
		// found in the enclosing one; do the same so we accept what it does.
		if strings.Contains(name, ".") || !c.defined[name] {
			return fmt.Errorf("unknown type %q", name)
		}
		full = name
	}
	c.writeString(full)
	return nil
}

func (c *canonicalizer) writeObject(m map[string]any, ns string) error {
	typ, ok := m["type"].(string)
	if !ok {
		return fmt.Errorf("schema object has type %v, want a type name", m["type"])
	}
	switch typ {
	case "record", "error", "enum", "fixed":
		return c.writeNamed(typ, m, ns)
	case "array", "map":
		attr := "items"
		if typ == "map" {
			attr = "values"
		}
		inner, ok := m[attr]
		if !ok {
			return fmt.Errorf("%s without %q", typ, attr)
		}
		c.out.WriteString(`{"type":`)
		c.writeString(typ)
		c.out.WriteString(`,"` + attr + `":`)
		if err := c.write(inner, ns); err != nil {
			return fmt.Errorf("%s %s: %w", typ, attr, err)
		}
		c.out.WriteByte('}')
		return nil
	default:
		// A primitive, logical type or not, collapses to its name; anything
		// else is a reference to a named type.
		return c.writeRef(typ, ns)
	}
}

func (c *canonicalizer) writeNamed(typ string, m map[string]any, ns string) error {
	name, ok := m["name"].(string)
	if !ok {
		return fmt.Errorf("%s without a string name", typ)
	}
	if !strings.Contains(name, ".") {
		if v, ok := m["namespace"]; ok && v != nil {
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("%s %s: namespace %v is not a string", typ, name, v)
			}
			ns = s
		}
	}
	full, err := fullName(name, ns)
	if err != nil {
		return fmt.Errorf("%s: %w", typ, err)
	}
	if isPrimitive(full) {
		return fmt.Errorf("%s: %q is a primitive type name", typ, full)
	}
	if c.defined[full] {
		return fmt.Errorf("%s %s: defined twice", typ, full)
	}
	// Defined before the body so that fields can refer back to it.
	c.defined[full] = true
	// Types nested inside take the namespace of this type's full name.
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		ns = full[:i]
	} else {
		ns = ""
	}

	c.out.WriteString(`{"name":`)
	c.writeString(full)
	c.out.WriteString(`,"type":`)
	c.writeString(typ)
	switch typ {
	case "record", "error":
		fields, ok := m["fields"].([]any)
		if !ok {
			return fmt.Errorf("%s %s: fields is not an array", typ, full)
		}
		c.out.WriteString(`,"fields":[`)
		for i, f := range fields {
			fm, ok := f.(map[string]any)
			if !ok {
				return fmt.Errorf("%s %s: field %d is not an object", typ, full, i)
			}
			fname, ok := fm["name"].(string)
			if !ok || !validName(fname) {
				return fmt.Errorf("%s %s: field %d has invalid name %v", typ, full, i, fm["name"])
			}
			ftype, ok := fm["type"]
			if !ok {
				return fmt.Errorf("%s %s: field %s has no type", typ, full, fname)
			}
			if i > 0 {
				c.out.WriteByte(',')
			}
			c.out.WriteString(`{"name":`)
			c.writeString(fname)
			c.out.WriteString(`,"type":`)
			if err := c.write(ftype, ns); err != nil {
				return fmt.Errorf("%s %s field %s: %w", typ, full, fname, err)
			}
			c.out.WriteByte('}')
		}
		c.out.WriteByte(']')
	case "enum":
		symbols, ok := m["symbols"].([]any)
		if !ok {
			return fmt.Errorf("enum %s: symbols is not an array", full)
		}
		c.out.WriteString(`,"symbols":[`)
		for i, sym := range symbols {
			s, ok := sym.(string)
			if !ok || !validName(s) {
				return fmt.Errorf("enum %s: invalid symbol %v", full, sym)
			}
			if i > 0 {
				c.out.WriteByte(',')
			}
			c.writeString(s)
		}
		c.out.WriteByte(']')
	case "fixed":
		size, err := fixedSize(m["size"])
		if err != nil {
			return fmt.Errorf("fixed %s: %w", full, err)
		}
		c.out.WriteString(`,"size":`)
		c.out.WriteString(strconv.FormatUint(size, 10))
	}
	c.out.WriteByte('}')
	return nil
}

// writeString writes s as a JSON string; every caller passes a validated
// name, symbol or type keyword, none of which needs escaping.
func (c *canonicalizer) writeString(s string) {
	c.out.WriteByte('"')
	c.out.WriteString(s)
	c.out.WriteByte('"')
}

// fixedSize accepts a JSON number or, per [INTEGERS], a quoted integer, with
// or without leading zeros.
func fixedSize(v any) (uint64, error) {
	var text string
	switch v := v.(type) {
	case json.Number:
		text = v.String()
	case string:
		text = v
	default:
		return 0, fmt.Errorf("size %v is not an integer", v)
	}
	n, err := strconv.ParseUint(text, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", text, err)
	}
	return n, nil
}

// fullName applies the specification's rules: a dotted name is already
// full, otherwise it lives in namespace ns.
func fullName(name, ns string) (string, error) {
	full := name
	if !strings.Contains(name, ".") && ns != "" {
		full = ns + "." + name
	}
	for part := range strings.SplitSeq(full, ".") {
		if !validName(part) {
			return "", fmt.Errorf("invalid name %q", full)
		}
	}
	return full, nil
}

// validName reports whether s matches [A-Za-z_][A-Za-z0-9_]*.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b == '_', 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z':
		case '0' <= b && b <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
