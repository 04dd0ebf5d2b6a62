package bench

import (
	"context"

	"github.com/thmanyah/enricher/enricher"
	"github.com/thmanyah/enricher/internal/kafkax"
)

// Passthrough is the baseline child: enricher.Passthrough with the writer
// `enricher run` uses, so the difference to `enricher run` is the enrichment.
func Passthrough(ctx context.Context, cfg enricher.PassthroughConfig) error {
	w := kafkax.NewWriter(cfg.Brokers)
	defer w.Close()
	cfg.Producer = w
	return enricher.Passthrough(ctx, cfg)
}
