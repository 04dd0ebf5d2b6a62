package kafkax

// The default topic names of CONTRACT.md, in one place: every command's flag
// defaults, the demo, the bench and the tests read them from here.
const (
	// TopicContent is Debezium's topic of the content table (compacted).
	TopicContent = "thmanyah.public.content"
	// TopicEngagement is Debezium's topic of the engagement_events table.
	TopicEngagement = "thmanyah.public.engagement_events"
	// TopicBackfill carries the plain JSON events `enricher backfill` writes.
	TopicBackfill = "engagement_events.backfill"
	// TopicOutput carries the enriched Avro records.
	TopicOutput = "processed_engagements"
	// TopicDLQ carries the records no consumer could process.
	TopicDLQ = "enricher.dlq"
)

// EventsTopics are the topics `enricher run` enriches by default.
var EventsTopics = []string{TopicEngagement, TopicBackfill}
