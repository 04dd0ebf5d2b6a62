// Package dlq builds dead-letter records: the original key and value bytes of a
// record the service could not process, with headers that say why and where it
// came from (the contract's dlq.* headers). Writing them is the caller's job, so
// that the caller can commit its input offsets only after the DLQ write is acknowledged.
package dlq
