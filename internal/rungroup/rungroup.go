// Package rungroup is the one way a long-running command runs its parts:
// github.com/oklog/run's actor model (every part is an execute function and
// an interrupt function; the first part to return interrupts all others, and
// Run waits for every one) with the two kinds of part the service has, a
// context-driven loop and an HTTP server, and the rule for which error is
// the command's.
//
// Guarantees: Run returns only after every part has returned; an HTTP server
// is shut down gracefully within the group's grace period; a part that ends
// because the group is stopping is not an error.
package rungroup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/oklog/run"
	"go.uber.org/zap"
)

// DefaultGrace is how long an HTTP server may take to finish its requests
// at shutdown.
const DefaultGrace = 5 * time.Second

// Group runs parts until the context ends or one of them fails.
type Group struct {
	log   *zap.Logger
	grace time.Duration
	g     run.Group
	ctx   context.Context
	stop  context.CancelFunc
}

// New returns a group whose parts run under a child of ctx; log, when not
// nil, hears why the group stopped.
func New(ctx context.Context, log *zap.Logger) *Group {
	if log == nil {
		log = zap.NewNop()
	}
	g := &Group{log: log, grace: DefaultGrace}
	g.ctx, g.stop = context.WithCancel(ctx)
	return g
}

// Go adds a part that runs until its context ends. An error it returns,
// unless the group was already stopping, stops the group and is what Run
// returns, prefixed with name.
func (g *Group) Go(name string, f func(ctx context.Context) error) {
	g.g.Add(func() error {
		err := f(g.ctx)
		if err != nil && g.ctx.Err() == nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}, func(error) { g.stop() })
}

// Serve adds an HTTP server serving on ln; it is shut down gracefully (its
// requests in flight get the group's grace period) when the group stops.
func (g *Group) Serve(srv *http.Server, ln net.Listener) {
	g.g.Add(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	}, func(error) {
		g.stop() // the other parts start stopping while requests finish
		ctx, cancel := context.WithTimeout(context.Background(), g.grace)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
}

// Run runs every part until the group's context ends (it then returns nil)
// or a part fails (it then stops the others and returns that failure).
func (g *Group) Run() error {
	g.g.Add(func() error { <-g.ctx.Done(); return nil }, func(error) { g.stop() })
	err := g.g.Run()
	g.stop()
	if err != nil {
		g.log.Error("stopping after a fatal error", zap.Error(err))
	} else {
		g.log.Info("stopped")
	}
	return err
}
