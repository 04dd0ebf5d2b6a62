package schemas

import _ "embed"

//go:embed processed_engagement.avsc
var processedEngagement string

// ProcessedEngagement returns the Avro schema (JSON text) of the records
// written to the processed_engagements topic.
func ProcessedEngagement() string { return processedEngagement }
