package dlq

import (
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// Header names, as in the contract.
const (
	HeaderError     = "dlq.error"
	HeaderStage     = "dlq.stage"
	HeaderTopic     = "dlq.source.topic"
	HeaderPartition = "dlq.source.partition"
	HeaderOffset    = "dlq.source.offset"
	HeaderFailedAt  = "dlq.failed_at"
)

// Record returns the DLQ record for src, which failed at stage with err.
// The original headers are kept after the dlq.* ones, so nothing is lost.
func Record(topic string, src kafka.Message, stage string, err error, now time.Time) kafka.Message {
	reason := "unknown error"
	if err != nil {
		reason = err.Error()
	}
	h := make([]kafka.Header, 0, 6+len(src.Headers))
	h = append(h,
		kafka.Header{Key: HeaderError, Value: []byte(reason)},
		kafka.Header{Key: HeaderStage, Value: []byte(stage)},
		kafka.Header{Key: HeaderTopic, Value: []byte(src.Topic)},
		kafka.Header{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(src.Partition), 10)},
		kafka.Header{Key: HeaderOffset, Value: strconv.AppendInt(nil, src.Offset, 10)},
		kafka.Header{Key: HeaderFailedAt, Value: []byte(now.UTC().Format(time.RFC3339))},
	)
	h = append(h, src.Headers...)
	return kafka.Message{Topic: topic, Key: src.Key, Value: src.Value, Headers: h}
}

// Header returns the value of the first header named key, or "" when absent.
func Header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
