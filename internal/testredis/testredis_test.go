package testredis

import (
	"net"
	"testing"
)

func TestStartStopStart(t *testing.T) {
	s := New(t)
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("ping a started server: %v", err)
	}
	s.Stop()
	if c, err := net.Dial("tcp", s.Addr()); err == nil {
		c.Close()
		t.Fatalf("port %d still answers after Stop", s.Port)
	}
	s.Stop() // stopping twice is harmless
	s.Start()
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("ping a restarted server: %v", err)
	}
	if s.URL() != "redis://"+s.Addr()+"/0" {
		t.Errorf("URL() = %q", s.URL())
	}
}

func TestBinaryFromEnv(t *testing.T) {
	t.Setenv("REDIS_SERVER", "/nonexistent/redis-server")
	if _, err := Binary(); err == nil {
		t.Fatal("Binary() accepted a missing $REDIS_SERVER")
	}
}
