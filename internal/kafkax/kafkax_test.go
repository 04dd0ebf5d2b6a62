package kafkax

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap/zaptest"

	"github.com/thmanyah/enricher/internal/retry"
	"github.com/thmanyah/enricher/internal/testkafka"
)

// produce writes n records to partition 0 of topic.
func produce(kc *testkafka.Cluster, topic string, n int) {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: 0, Key: []byte(strconv.Itoa(i)), Value: []byte("v")}
	}
	kc.Produce(recs...)
}

func TestFetchBatch(t *testing.T) {
	kc := testkafka.New(t)
	for _, tc := range []struct {
		name     string
		records  int // in the topic before FetchBatch
		cap      int
		linger   time.Duration
		cancel   bool // ctx ended before the call
		want     int
		wantErr  bool
		minTaken time.Duration // FetchBatch took at least this
		maxTaken time.Duration // and at most this (0: no bound); ctx ends at 30s
	}{
		{name: "stops at cap without lingering", records: 10, cap: 4, linger: time.Minute, want: 4, maxTaken: 20 * time.Second},
		{name: "lingers for more, then returns what it has", records: 3, cap: 100, linger: 300 * time.Millisecond, want: 3, minTaken: 300 * time.Millisecond},
		{name: "one record and cap one", records: 1, cap: 1, linger: time.Minute, want: 1, maxTaken: 20 * time.Second},
		{name: "context ended: an error and no batch", records: 1, cap: 10, linger: time.Second, cancel: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "fetch." + strings.ReplaceAll(tc.name, " ", "-")
			topic = topic[:min(len(topic), 40)]
			kc.Topic(topic, 1, nil)
			produce(kc, topic, tc.records)
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: kc.Addrs(), Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
			t.Cleanup(func() { _ = r.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if tc.cancel {
				cancel()
			}
			start := time.Now()
			got, err := FetchBatch(ctx, r, make([]kafka.Message, 0, tc.cap), tc.linger)
			took := time.Since(start)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error: %v", err, tc.wantErr)
			}
			if len(got) != tc.want {
				t.Fatalf("got %d records, want %d", len(got), tc.want)
			}
			for i, m := range got {
				if m.Offset != int64(i) {
					t.Fatalf("record %d: got offset %d, want %d (in order, none skipped)", i, m.Offset, i)
				}
			}
			if took < tc.minTaken || (tc.maxTaken > 0 && took > tc.maxTaken) {
				t.Fatalf("took %v, want from %v to %v", took, tc.minTaken, tc.maxTaken)
			}
		})
	}
}

// failCommits makes the cluster fail OffsetCommit requests while fail
// returns true for the request's number (0-based).
func failCommits(kc *testkafka.Cluster, fail func(n int64) bool) *atomic.Int64 {
	var n atomic.Int64
	kc.ControlKey(kmsg.OffsetCommit.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		if !fail(n.Add(1) - 1) {
			return nil, nil, false
		}
		r := req.(*kmsg.OffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidCommitOffsetSize.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return &n
}

// committed returns the group's committed offset of topic/0, -1 when none.
func committed(t *testing.T, kc *testkafka.Cluster, group, topic string) int64 {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(kc.Addrs()...)}
	res, err := cl.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	for _, p := range res.Topics[topic] {
		if p.Partition == 0 {
			return p.CommittedOffset
		}
	}
	return -1
}

func TestCommit(t *testing.T) {
	fast := retry.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}
	for _, tc := range []struct {
		name        string
		fail        func(n int64) bool // which OffsetCommit requests the cluster fails
		cancel      bool               // ctx (not workCtx) ended before the call
		wantErr     bool
		wantRetries int
		wantOffset  int64 // committed afterwards; -1: none
	}{
		// kafka-go itself sends a commit up to 3 times before
		// CommitMessages fails, so 3 failed requests are one failed attempt.
		{name: "first attempt", fail: func(int64) bool { return false }, wantOffset: 2},
		{name: "retries then succeeds", fail: func(n int64) bool { return n < 3 }, wantRetries: 1, wantOffset: 2},
		{name: "gives up", fail: func(int64) bool { return true }, wantErr: true, wantRetries: CommitAttempts - 1, wantOffset: -1},
		{name: "stops retrying once ctx ended", fail: func(int64) bool { return true }, cancel: true, wantErr: true, wantOffset: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc := testkafka.New(t)
			const topic, group = "commit", "g"
			kc.Topic(topic, 1, nil)
			produce(kc, topic, 2)
			rc := GroupReaderConfig(kc.Addrs(), group, []string{topic}, 16, zaptest.NewLogger(t))
			rc.HeartbeatInterval = 100 * time.Millisecond
			rc.JoinGroupBackoff = 100 * time.Millisecond
			r := kafka.NewReader(rc)
			t.Cleanup(func() { _ = r.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var msgs []kafka.Message
			for range 2 {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					t.Fatalf("fetch: %v", err)
				}
				msgs = append(msgs, m)
			}
			failCommits(kc, tc.fail)

			callCtx, stop := context.WithCancel(ctx)
			if tc.cancel {
				stop()
			}
			defer stop()
			var retries []error
			err := Commit(callCtx, ctx, r, msgs[1:], fast, func(err error) { retries = append(retries, err) })
			if (err != nil) != tc.wantErr {
				t.Fatalf("got %v, want error: %v", err, tc.wantErr)
			}
			if err != nil && (!errors.Is(err, ErrCommitAbandoned) || !strings.Contains(err.Error(), "Invalid Commit Offset Size")) {
				t.Errorf("got %v, want ErrCommitAbandoned wrapping the broker's answer", err)
			}
			if len(retries) != tc.wantRetries {
				t.Errorf("got %d retries %v, want %d", len(retries), retries, tc.wantRetries)
			}
			if got := committed(t, kc, group, topic); got != tc.wantOffset {
				t.Errorf("committed offset: got %d, want %d", got, tc.wantOffset)
			}
		})
	}
}

func TestLag(t *testing.T) {
	for _, tc := range []struct {
		name       string
		offset, hw int64
		want       int64
	}{
		{"last record", 9, 10, 0},
		{"behind", 2, 10, 7},
		{"watermark unknown", 5, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Lag(&kafka.Message{Offset: tc.offset, HighWaterMark: tc.hw}); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// closedAddr is an address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestEnsureTopics(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic("exists", 2, nil)
	ctx := context.Background()
	log := zaptest.NewLogger(t)
	if err := EnsureTopics(ctx, kc.Addrs(), log, Topic("exists", 1, ""), Topic("new.compacted", 3, "compact")); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	cl := &kafka.Client{Addr: kafka.TCP(kc.Addrs()...)}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"exists", "new.compacted"}})
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]int{}
	for _, tp := range md.Topics {
		parts[tp.Name] = len(tp.Partitions)
	}
	if parts["exists"] != 2 || parts["new.compacted"] != 3 {
		t.Errorf("got partitions %v, want exists left with 2 and new.compacted created with 3", parts)
	}
	cfgs, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: "new.compacted", ConfigNames: []string{"cleanup.policy"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(cfgs.Resources[0].ConfigEntries); !strings.Contains(got, "compact") {
		t.Errorf("new.compacted cleanup.policy: got %s, want compact", got)
	}

	addr := closedAddr(t)
	err = EnsureTopics(ctx, []string{addr}, log, Topic("x", 1, ""))
	if _, ok := AsUnreachable(nil, err); !ok || !strings.HasPrefix(err.Error(), "kafka unreachable at "+addr+": dial tcp "+addr) {
		t.Fatalf("got %v (%T), want an UnreachableError naming %s and the dial error", err, err, addr)
	}
	if strings.Contains(err.Error(), "Broker Not Available") || strings.Contains(err.Error(), "kafka.(*Client)") {
		t.Errorf("got %q, want the network error alone", err)
	}
}

func TestAsUnreachable(t *testing.T) {
	brokers := []string{"a:1", "b:2"}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, tc := range []struct {
		name string
		err  error
		want string // "" when not unreachable
	}{
		{"nil", nil, ""},
		{"dial error wrapped by the client", fmt.Errorf("metadata: kafka.(*Client).Metadata: %w", dial), "kafka unreachable at a:1,b:2: dial tcp: connect: connection refused"},
		{"dns error", fmt.Errorf("x: %w", &net.DNSError{Err: "no such host", Name: "kafka"}), "kafka unreachable at a:1,b:2: lookup kafka: no such host"},
		{"an answer from kafka", fmt.Errorf("x: %w", kafka.UnknownTopicOrPartition), ""},
		{"a timeout", context.DeadlineExceeded, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ue, ok := AsUnreachable(brokers, tc.err)
			switch {
			case tc.want == "" && ok:
				t.Fatalf("got %v, want not unreachable", ue)
			case tc.want != "" && (!ok || ue.Error() != tc.want):
				t.Fatalf("got %v %v, want %q", ue, ok, tc.want)
			}
		})
	}
}

func TestEndOffsets(t *testing.T) {
	kc := testkafka.New(t)
	kc.Topic("three", 3, nil)
	kc.Produce(
		&kgo.Record{Topic: "three", Partition: 0, Value: []byte("a")},
		&kgo.Record{Topic: "three", Partition: 2, Value: []byte("b")},
		&kgo.Record{Topic: "three", Partition: 2, Value: []byte("c")},
	)
	cl := &kafka.Client{Addr: kafka.TCP(kc.Addrs()...), Timeout: 5 * time.Second}
	got, err := EndOffsets(context.Background(), cl, "three")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int]int64{0: 1, 1: 0, 2: 2}; !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := EndOffsets(context.Background(), cl, "no.such.topic"); err == nil || !strings.Contains(err.Error(), "no.such.topic") {
		t.Errorf("missing topic: got %v, want an error naming it", err)
	}
}
