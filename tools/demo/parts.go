package demo

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/thmanyah/enricher/internal/kafkax"
	"github.com/thmanyah/enricher/internal/testredis"
)

// redisServer is a redis-server process the demo owns: loopback, a free
// port, a temporary directory, no persistence.
type redisServer struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// url is a redis:// URL of database 0.
func (s *redisServer) url() string { return "redis://" + s.addr + "/0" }

// startRedis starts a temporary redis-server, or says why there is none
// (nil and the reason). The binary is found as internal/testredis finds it
// ($REDIS_SERVER, $PATH, Debian's places).
func startRedis(ctx context.Context) (*redisServer, string) {
	bin, err := testredis.Binary()
	if err != nil {
		return nil, err.Error()
	}
	dir, err := os.MkdirTemp("", "enricher-demo-redis-")
	if err != nil {
		return nil, fmt.Sprintf("temporary directory: %v", err)
	}
	// The port is picked by binding :0 and closing: redis-server takes a
	// number, not a listener. Another process taking it in between makes the
	// start fail, which is reported, not fatal.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Sprintf("free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &redisServer{addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"),
		"--daemonize", "no", "--protected-mode", "no")
	// Killed with the demo even when the demo itself is killed.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Sprintf("start %s: %v", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	if err := s.waitPing(ctx, 10*time.Second); err != nil {
		s.stop()
		return nil, err.Error()
	}
	return s, ""
}

func (s *redisServer) waitPing(ctx context.Context, limit time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(limit)
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("redis-server on %s exited at start (see its log in %s)", s.addr, s.dir)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer PING within %v: %w", s.addr, limit, err)
		}
	}
}

// stop ends the server (SIGTERM, SIGKILL after 5 s) and removes its directory.
func (s *redisServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(s.dir)
}

// malformed are the engagement records the demo injects so that the DLQ is
// not empty: each is one the service must dead-letter, not drop or crash
// on. (An unknown event_type string is not among them: the contract's
// event_type is free text, so the service passes it through.)
var malformed = []struct{ why, value string }{
	{"broken JSON", `{"id": 900000001, "content_id": "7c1b`},
	{"event_type not a string", `{"id": 900000002, "content_id": "01004f0d-e298-4a36-87a0-f2420e780cf5", "event_type": 42, "event_ts": "2025-01-01T12:30:00Z"}`},
	{"content_id not a UUID", `{"id": 900000003, "content_id": "not-a-uuid", "event_type": "play", "event_ts": "2025-01-01T12:30:00Z"}`},
	{"event_ts not a time", `{"id": 900000004, "content_id": "01004f0d-e298-4a36-87a0-f2420e780cf5", "event_type": "play", "event_ts": "yesterday"}`},
}

// inject writes the malformed records to the engagement topic.
func inject(ctx context.Context, brokers []string) error {
	w := kafkax.NewWriter(brokers)
	defer w.Close()
	msgs := make([]kafka.Message, len(malformed))
	for i, m := range malformed {
		msgs[i] = kafka.Message{Topic: kafkax.TopicEngagement, Key: []byte("demo-malformed-" + strconv.Itoa(i+1)), Value: []byte(m.value)}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("inject malformed events: %w", err)
	}
	return nil
}

// topicRecords is the number of records written to topic so far: the sum of
// its partitions' end offsets (the demo's topics are never truncated).
func topicRecords(ctx context.Context, brokers []string, topic string) (int64, error) {
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
	ends, err := kafkax.EndOffsets(ctx, c, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, end := range ends {
		n += end
	}
	return n, nil
}
