// Package registry is the one Schema Registry adapter of the service: the
// debezium decoder reads writer schemas through it (input), and the schemas
// package registers and reads the output schema through it (output).
//
// Model: a Client answers SchemaByID and Register over the Confluent REST API.
// Its errors are classified once, here: an error wrapping ErrSchemaNotFound or
// ErrSchemaUnsupported is the record's fault (poison: dead-letter it); every
// other error is the registry's or the network's (retry the same record).
package registry
