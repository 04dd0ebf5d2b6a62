package demo

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/thmanyah/enricher/cdc"
	"github.com/thmanyah/enricher/debezium"
	"github.com/thmanyah/enricher/enricher"
	"github.com/thmanyah/enricher/httpapi"
	"github.com/thmanyah/enricher/internal/httpx"
	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/rungroup"
	"github.com/thmanyah/enricher/schemas"
	"github.com/thmanyah/enricher/store"
)

// testService is the service wired from its real packages (the view, the
// content consumer, the enricher, the HTTP API) as `enricher run` wires
// them, minus the flags: this package cannot import the binary's.
type testService struct {
	reg  *prometheus.Registry
	st   *store.Store
	view *cdc.Consumer
	proc *enricher.Processor
	h    http.Handler
	ln   net.Listener
	w    *kafka.Writer
}

// newTestService is a Config.Service; t fails on an error wiring what
// cannot fail in a test.
func newTestService(t *testing.T) func(ServiceEnv) (Service, error) {
	return func(env ServiceEnv) (Service, error) {
		t.Helper()
		s := &testService{reg: httpx.NewRegistry(), w: kafkax.NewWriter(env.Brokers)}
		var err error
		if s.st, err = store.Open(store.Options{Dir: env.DataDir}); err != nil {
			t.Fatalf("open the view: %v", err)
		}
		dec := debezium.NewDecoder(nil)
		if s.view, err = cdc.New(cdc.Config{Brokers: env.Brokers, Topic: kafkax.TopicContent, DLQTopic: kafkax.TopicDLQ,
			Store: s.st, Decoder: dec, DLQ: s.w, Registerer: s.reg}); err != nil {
			t.Fatal(err)
		}
		enc, err := schemas.NewEncoder(0, schemas.FramingSingleObject)
		if err != nil {
			t.Fatal(err)
		}
		if s.proc, err = enricher.New(enricher.Config{Brokers: env.Brokers, Topics: kafkax.EventsTopics, Group: "enricher",
			OutputTopic: kafkax.TopicOutput, DLQTopic: kafkax.TopicDLQ, View: s.st, Freshness: s.view, Decoder: dec,
			Encoder: enc, Mode: enricher.ModeAsOf, JoinWait: 5 * time.Second, Registerer: s.reg}); err != nil {
			t.Fatal(err)
		}
		if s.h, err = httpapi.NewHandler(httpapi.Config{View: s.st, Tracker: s.view, Gatherer: s.reg}); err != nil {
			t.Fatal(err)
		}
		if s.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		return s, nil
	}
}

func (s *testService) Run(ctx context.Context) error {
	g := rungroup.New(ctx, nil)
	g.Serve(httpx.NewServer("", s.h, nil), s.ln)
	g.Go("content view", s.view.Run)
	g.Go("enricher", s.proc.Run)
	return g.Run()
}

func (s *testService) HTTPAddr() string              { return s.ln.Addr().String() }
func (s *testService) Gatherer() prometheus.Gatherer { return s.reg }

func (s *testService) Close() {
	s.ln.Close()
	s.w.Close()
	s.st.Close()
}
