// Package enricher joins engagement events with the content view and writes
// one enriched Avro record per event to the output topic, exactly once for
// crash-stop failures and rebalances, without Kafka transactions.
//
// Model: a Processor is a member of a consumer group over the engagement
// topics (kafka-go's ConsumerGroup: each generation hands it its partitions
// explicitly, and waits for runGeneration to return before the next one).
// Each instance holds a full content view and starts joining only once it is
// ready. A generation reads each partition with its own reader and runs the
// batches through a pipeline (pipeline.go): one goroutine fetches, Workers
// decode, look up (as of the event's time, or the latest version), derive and
// encode side by side, and one goroutine delivers in fetch order, one produce
// per batch; offsets are committed only after the broker acknowledged
// everything before them.
//
// Exactly once (position.go, tracker.go, tail.go): every output and DLQ
// record of one input partition goes to one fixed partition (targetPartition)
// and carries its input position in the enricher.src header. Every commit
// stores, as the offset's metadata, where in those partitions the records of
// the input after the committed offset may start (from the offsets the
// writer's Completion reports). When a generation is handed a partition, it
// reads the output and DLQ partitions from there to their end, and skips the
// input records whose positions it finds. A failed write is retried only
// after its partitions were read for what the broker appended anyway
// (resolve.go; kafka-go has no idempotent producer). Not covered: a member
// cut off from the coordinator that keeps writing after its partitions moved
// (a zombie), a write still queued in the broker while its failure is
// checked, and a partition whose tail cannot be read or whose commit has no
// position (an older version's): those fall back to at-least-once, with a
// warning and a metric.
//
// Late content (hold.go): a miss, or an event newer than everything the view
// applied (after its batch waited at most 100ms for the view to catch up),
// is held per event, not per batch: it leaves when a change of its
// content is applied (at once), when the view has caught up with the content
// topic (events newer than the view), or --join-wait after it was read, and
// is then joined or emitted as a miss. Commits never pass a held event. The
// hold is bounded; an event that does not fit goes at once. Misses are never
// cached.
//
// Explain (explain.go) answers, for the debug API, what the join would do
// now with an event for a content id and time: it calls the same lookup and
// provisional the pipeline does.
//
// Derived fields are exact decimals (derive.go); records are encoded by
// package schemas (Confluent's wire format with a registry, single-object
// encoding with the spec's fingerprint without one).
package enricher
