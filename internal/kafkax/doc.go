// Package kafkax is the service's Kafka plumbing, written once: the producer
// configuration (NewWriter), the consumer group reader configuration
// (GroupReaderConfig), topic creation (EnsureTopics), fetching a batch with a
// linger (FetchBatch), committing with retries (Commit), telling "no broker
// answered" from an answer (UnreachableError), a consumer's position report
// (PartitionStatus), and the default topic names (the Topic* constants).
//
// Guarantees: writers wait for every in-sync replica (RequiredAcks all) and
// partition by murmur2 of the key, as Java producers do; readers never commit
// on their own (CommitInterval 0), so offsets move only when a caller commits
// after the effects they stand for are durable.
package kafkax
