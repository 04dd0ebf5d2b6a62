package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/thmanyah/enricher/internal/pgtemp"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/tools/capture"
	"github.com/thmanyah/enricher/tools/datagen"
)

// pipeline is the whole chain from Postgres commits: a temporary cluster with
// the contract's tables, capture into kfake, and the service reading it.
type pipeline struct {
	pg *pgtemp.Cluster
	kc *testkafka.Cluster
	tm *testMain
}

// startPipeline starts it and tears it down when the test ends; it skips
// when no PostgreSQL server binaries are installed. tune adjusts the
// service's configuration (nil keeps testConfig's).
func startPipeline(tb testing.TB, tune func(*RunConfig)) *pipeline {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pg, err := pgtemp.Start(ctx)
	if errors.Is(err, pgtemp.ErrNoServer) {
		cancel()
		tb.Skip("no PostgreSQL server binaries; .ci/run installs them")
	}
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(pg.Stop)
	if err := pg.Exec(ctx, "postgres", datagen.Schema); err != nil {
		cancel()
		tb.Fatal(err)
	}
	kc := testkafka.New(tb)
	kc.Topic(contentTopic, 3, map[string]string{"cleanup.policy": "compact"})
	kc.Topic(eventsTopic, 3, nil)
	kc.Topic(backfillTopic, 1, nil)
	kc.Topic(outputTopic, 3, nil)
	cp, err := capture.New(capture.Config{PGURL: pg.URL("postgres"), Brokers: kc.Addrs()})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	capDone := make(chan error, 1)
	go func() { capDone <- cp.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-capDone; err != nil {
			tb.Errorf("capture: %v", err)
		}
	})
	cfg := testConfig(kc.Addrs(), tb.TempDir())
	if tune != nil {
		tune(&cfg)
	}
	tm := startMain(tb, cfg)
	tm.waitReady(30 * time.Second)
	return &pipeline{pg: pg, kc: kc, tm: tm}
}
