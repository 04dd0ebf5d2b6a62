// Command enricher keeps a local view of the Postgres content table, fed by
// Debezium, and enriches engagement events with it. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		// One line, so it is the last thing an operator sees and can grep for.
		fmt.Fprintf(os.Stderr, "enricher: %v\n", err)
		os.Exit(1)
	}
}
