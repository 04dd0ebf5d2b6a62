package wiring

import (
	"context"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/internal/field"
	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/registry"
	"github.com/thmanyah/enricher/schemas"
)

// NewDecoder returns the decoder of processed_engagements records, with a
// Schema Registry client when registryURL is set (Confluent-framed records
// need one; single-object records do not).
func NewDecoder(registryField, registryURL string) (*schemas.Decoder, error) {
	var src schemas.SchemaSource
	if registryURL != "" {
		cl, err := registry.New(registryURL)
		if err != nil {
			return nil, &field.Error{Field: registryField, Err: err}
		}
		src = cl
	}
	return schemas.NewDecoder(src)
}

// NewDLQWriter returns the writer of dead letters and creates topic when it
// is missing, so that a fresh cluster works; a failure to create it is
// logged, leaving the topic to auto-creation or to whoever manages topics.
func NewDLQWriter(ctx context.Context, brokers []string, topic string, log *zap.Logger) *kafka.Writer {
	if err := kafkax.EnsureTopics(ctx, brokers, log, kafkax.Topic(topic, 1, "")); err != nil {
		log.Warn("create the dlq topic (it may need to be created by hand)", zap.String("topic", topic), zap.Error(err))
	}
	return kafkax.NewWriter(brokers)
}
