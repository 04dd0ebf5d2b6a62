// Package schemas holds the Avro schemas the service writes, embedded so the
// binary, its tests and the Schema Registry all see the same text.
//
// Compatibility rule: a schema here is read by consumers we do not deploy, so
// it only ever grows at the end. A new field is appended after the existing
// ones, is optional (a union with "null" first) and carries "default": null.
// Existing fields are never renamed, reordered, retyped or removed. That keeps
// every version both backward and forward compatible in Schema Registry terms.
package schemas
