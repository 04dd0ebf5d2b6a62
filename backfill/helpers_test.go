package backfill

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/thmanyah/enricher/internal/pgtemp"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/tools/datagen"
)

// The seeded data: seedRows events whose event_ts is a permutation of
// base + 0..seedRows-1 seconds (i*7919 mod seedRows: 7919 is prime to it),
// so the ids in range are scattered among the ids outside it.
const (
	seedRows   = 120_000
	seedStride = 7919
	rangeLo    = 10_000  // seconds after base, inclusive
	rangeHi    = 110_000 // exclusive: 100,000 events in range
	testTopic  = DefaultTopic
	partitions = 3
)

var base = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

func rangeFrom() time.Time { return base.Add(rangeLo * time.Second) }
func rangeTo() time.Time   { return base.Add(rangeHi * time.Second) }

// offsetOf is the event_ts of id, in seconds after base.
func offsetOf(id int64) int64 { return id * seedStride % seedRows }

func inRange(id int64) bool { o := offsetOf(id); return o >= rangeLo && o < rangeHi }

const seedSQL = `
INSERT INTO content (id, slug, title, content_type, length_seconds, publish_ts)
SELECT md5('c' || i)::uuid, 'slug-' || i, 'Title ' || i, (ARRAY['podcast','newsletter','video'])[i % 3 + 1], 600 * i, '2024-01-01Z'
FROM generate_series(1, 20) i;
INSERT INTO engagement_events (content_id, user_id, event_type, event_ts, duration_ms, device, raw_payload)
SELECT CASE WHEN i % 50 = 0 THEN NULL ELSE md5('c' || (i % 20 + 1))::uuid END,
       md5('u' || i)::uuid,
       (ARRAY['play','pause','finish','click'])[i % 4 + 1],
       timestamptz '2024-06-01Z' + ((i::bigint * 7919) % 120000) * interval '1 second' + (i % 1000) * interval '1 microsecond',
       CASE WHEN i % 7 = 0 THEN NULL WHEN i % 11 = 0 THEN -5 ELSE i * 13 % 3600000 END,
       CASE WHEN i % 3 = 0 THEN NULL WHEN i % 3 = 1 THEN 'ios' ELSE 'web "beta"\' END,
       CASE WHEN i % 5 = 0 THEN NULL ELSE jsonb_build_object('i', i, 'ar', 'بودكاست', 'nested', jsonb_build_array(1, 'x')) END
FROM generate_series(1, 120000) i;
ANALYZE;`

var shared struct {
	once sync.Once
	pg   *pgtemp.Cluster
	err  error
	dbs  atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.pg != nil {
		shared.pg.Stop()
	}
	os.Exit(code)
}

// seededDB returns the URL of a new database holding the seeded tables
// (a copy of a template seeded once per process).
func seededDB(t testing.TB) (string, *pgtemp.Cluster) {
	t.Helper()
	ctx := context.Background()
	shared.once.Do(func() {
		shared.pg, shared.err = pgtemp.Start(ctx)
		if shared.err != nil {
			return
		}
		shared.err = shared.pg.Exec(ctx, "postgres", "CREATE DATABASE seed")
		if shared.err == nil {
			shared.err = shared.pg.Exec(ctx, "seed", datagen.Schema+seedSQL)
		}
	})
	if errors.Is(shared.err, pgtemp.ErrNoServer) {
		t.Skip(shared.err)
	}
	if shared.err != nil {
		t.Fatalf("seed postgres: %v", shared.err)
	}
	db := fmt.Sprintf("t%d", shared.dbs.Add(1))
	if err := shared.pg.Exec(ctx, "postgres", "CREATE DATABASE "+db+" TEMPLATE seed"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return shared.pg.URL(db), shared.pg
}

// testConfig is a run of the seeded range into kc.
func testConfig(t testing.TB, pgURL string, kc *testkafka.Cluster) Config {
	return Config{
		PGURL: pgURL, Brokers: kc.Addrs(), Topic: testTopic, From: rangeFrom(), To: rangeTo(),
		Batch: 5000, Checkpoint: filepath.Join(t.TempDir(), "backfill.checkpoint"),
	}
}

func newKafka(t testing.TB) *testkafka.Cluster {
	kc := testkafka.New(t)
	kc.Topic(testTopic, partitions, nil)
	return kc
}

// delivered reads the whole topic and counts the records per id (the key).
func delivered(t testing.TB, kc *testkafka.Cluster) map[int64]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := range partitions {
		req.Topics[testTopic] = append(req.Topics[testTopic], kafka.LastOffsetOf(p))
	}
	res, err := (&kafka.Client{Addr: kafka.TCP(kc.Addrs()...)}).ListOffsets(ctx, req)
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	var total int64
	for _, po := range res.Topics[testTopic] {
		if po.Error != nil {
			t.Fatalf("list offsets of partition %d: %v", po.Partition, po.Error)
		}
		total += po.LastOffset
	}
	recs := kc.ReadAll(testTopic, int(total), 60*time.Second)
	if int64(len(recs)) != total {
		t.Fatalf("read %d records, the topic holds %d", len(recs), total)
	}
	got := make(map[int64]int, len(recs))
	for _, r := range recs {
		id, err := strconv.ParseInt(string(r.Key), 10, 64)
		if err != nil {
			t.Fatalf("key %q is not a decimal id", r.Key)
		}
		got[id]++
	}
	return got
}

// checkDelivery checks every id in range was delivered, none outside it,
// and duplicates only above boundary (the checkpoint a resumed run started
// from) and at most maxDups of them; it returns the number of duplicates.
func checkDelivery(t testing.TB, got map[int64]int, boundary int64, maxDups int) int {
	t.Helper()
	dups, lo, hi := 0, int64(-1), int64(-1)
	for id := int64(1); id <= seedRows; id++ {
		n := got[id]
		switch {
		case !inRange(id) && n > 0:
			t.Fatalf("id %d (event_ts outside the range) was sent %d times", id, n)
		case inRange(id) && n == 0:
			t.Fatalf("id %d: never delivered", id)
		case n > 1:
			if id <= boundary {
				t.Fatalf("id %d at or below the resume boundary %d delivered %d times", id, boundary, n)
			}
			dups += n - 1
			if lo < 0 {
				lo = id
			}
			hi = id
		}
	}
	for id := range got {
		if id < 1 || id > seedRows {
			t.Fatalf("id %d does not exist", id)
		}
	}
	if dups > maxDups {
		t.Fatalf("%d duplicates (ids %d..%d), want at most %d", dups, lo, hi, maxDups)
	}
	if dups == 0 {
		t.Logf("delivered %d distinct ids, no duplicates", len(got))
	} else {
		t.Logf("delivered %d distinct ids; %d duplicates, all past the resume boundary (id %d): ids %d..%d", len(got), dups, boundary, lo, hi)
	}
	return dups
}

// wantCount is the number of events in range.
func wantCount() (n, minID, maxID int64) {
	minID = -1
	for id := int64(1); id <= seedRows; id++ {
		if inRange(id) {
			n++
			if minID < 0 {
				minID = id
			}
			maxID = id
		}
	}
	return n, minID, maxID
}

// flaky is a producer whose write number failAt writes only the first half
// of its records and then fails, as a crash between acks would leave it.
type flaky struct {
	w      *kafka.Writer
	failAt int
	calls  int
	failed []kafka.Message // the records written by the failed call
}

func (f *flaky) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	f.calls++
	if f.calls != f.failAt {
		return f.w.WriteMessages(ctx, msgs...)
	}
	f.failed = msgs[:len(msgs)/2]
	if err := f.w.WriteMessages(ctx, f.failed...); err != nil {
		return err
	}
	return errors.New("injected failure after half the batch")
}
