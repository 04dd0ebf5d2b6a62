// Package schemas is the processed_engagements contract: the Avro schema
// (embedded, so the binary, its tests and the Schema Registry all see the
// same text), the Output record, the Encoder the enricher writes with, the
// Decoder the sinks read with, the single-object fingerprint (the spec's
// Parsing Canonical Form and CRC-64-AVRO, not goavro's), the registry
// Subject, and Register. Consumers of the output import this package, never
// the enricher.
//
// Framing: with a Schema Registry, the Confluent wire format (byte 0, the
// 4-byte big-endian schema id, the Avro body); without one, Avro
// single-object encoding (C3 01, the 8-byte little-endian fingerprint, the
// body). The Decoder reads both; Poison tells a record that can never decode
// from a registry that cannot answer now.
//
// The Encoder is not goavro's generic writer, which needs a map of boxed
// values per record, but a writer specialised to the schema: NewEncoder
// compiles the embedded .avsc into steps over Output's fields at start-up.
// It is proven byte for byte against goavro by differential tests and a fuzz
// target, and a changed .avsc that it does not cover fails NewEncoder, so a
// schema change stops the service instead of writing what goavro would not:
// a new field needs its own in Output and a binding in plan.go.
//
// Compatibility rule: a schema here is read by consumers we do not deploy, so
// it only ever grows at the end. A new field is appended after the existing
// ones, is optional (a union with "null" first) and carries "default": null.
// Existing fields are never renamed, reordered, retyped or removed. That keeps
// every version both backward and forward compatible in Schema Registry terms.
package schemas
