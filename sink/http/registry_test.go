package httpsink

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/registry"
	"github.com/thmanyah/enricher/schemas"
	"github.com/thmanyah/enricher/tools/receiver"
)

// TestConfluentFraming: records in the Confluent wire format are decoded
// with the writer schema from the registry; an id the registry does not
// know is poison, so its record goes to the DLQ.
func TestConfluentFraming(t *testing.T) {
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := registry.New(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	id, err := schemas.Register(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := schemas.NewEncoder(id, schemas.FramingConfluent)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, 1)
	var recs []*kgo.Record
	for i := int64(0); i < 5; i++ {
		o := event(i)
		v, err := enc.Append(nil, &o)
		if err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			v[4] = 0x7f // schema id 127, never registered
		}
		recs = append(recs, &kgo.Record{Topic: testTopic, Key: []byte(strconv.FormatInt(i, 10)), Value: v})
	}
	e.kc.Produce(recs...)
	dec, err := schemas.NewDecoder(cl)
	if err != nil {
		t.Fatal(err)
	}
	rcv, _, url := newReceiver(t, receiver.Faults{})
	s := e.start(url, func(c *SinkConfig) { c.Decoder = dec })
	testkafka.Eventually(t, 30*time.Second, "all records done", func() bool { d, x := s.Stats(); return d+x == 5 })
	if st := rcv.Stats(); st.Events != 4 {
		t.Errorf("receiver got %d events, want 4", st.Events)
	}
	r := e.dlq(1)[0]
	if string(r.Key) != "3" || !strings.Contains(header(r, dlq.HeaderError), "schema id 127") {
		t.Errorf("dlq record: key %q, error %q", r.Key, header(r, dlq.HeaderError))
	}
}
