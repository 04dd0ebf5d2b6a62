package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/segmentio/kafka-go"
)

// applicationName tags the loader's session in pg_stat_activity.
const applicationName = "enricher-backfill"

const (
	predicate = `id > $1 AND event_ts >= $2 AND event_ts < $3`
	countSQL  = `SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM ` + Table + ` WHERE ` + predicate
	pageSQL   = `SELECT id, content_id, user_id, event_type, event_ts, duration_ms, device, raw_payload FROM ` +
		Table + ` WHERE ` + predicate + ` ORDER BY id LIMIT $4`
)

// Plan is what a run would send: the rows of the range after After.
type Plan struct {
	From, To time.Time
	Topic    string
	// After is the id reading starts after (the checkpoint's, when resumed).
	After   int64
	Resumed bool
	// Done: the checkpoint says the range was sent completely.
	Done  bool
	Count int64
	// Estimated: Count is the planner's estimate, the exact count took
	// longer than Config.CountTimeout. MinID and MaxID are then unknown.
	Estimated    bool
	MinID, MaxID int64 // ids of the first and last row; with Count > 0 and not Estimated
}

// source reads the table on one connection.
type source struct {
	conn     *pgx.Conn
	from, to time.Time
	recSize  int // bytes per record of the last page, to size the next page's buffer
}

func openSource(ctx context.Context, cfg *Config) (*source, error) {
	pc, err := pgx.ParseConfig(cfg.PGURL)
	if err != nil {
		return nil, fmt.Errorf("postgres url: %w", err)
	}
	if pc.RuntimeParams["application_name"] == "" {
		pc.RuntimeParams["application_name"] = applicationName
	}
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, connectError(pc, err)
	}
	return &source{conn: conn, from: cfg.From, to: cfg.To, recSize: 256}, nil
}

// ConnectError is a failed connection to the source Postgres. Its message
// is one line: where, why, and what to check. (pgx's own lists every
// attempt on a line of its own, two per address with sslmode=prefer; the
// first attempt's cause stands for them.)
type ConnectError struct {
	Addr string // host:port, or the Unix socket's path
	Err  error  // pgx's error
}

func (e *ConnectError) Error() string {
	hint := "is --pg-url right and the server up?"
	text := strings.Join(strings.Fields(e.Err.Error()), " ")
	if pe, ok := errors.AsType[*pgconn.PgError](e.Err); ok {
		text, hint = pe.Error(), "are the user, password and database in --pg-url right?"
	} else if op, ok := errors.AsType[*net.OpError](e.Err); ok {
		text = op.Error()
	}
	return fmt.Sprintf("connect to postgres at %s: %s (%s)", e.Addr, text, hint)
}

func (e *ConnectError) Unwrap() error { return e.Err }

func connectError(pc *pgx.ConnConfig, err error) error {
	addr := net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port)))
	if strings.HasPrefix(pc.Host, "/") {
		addr = fmt.Sprintf("%s/.s.PGSQL.%d", pc.Host, pc.Port)
	}
	return &ConnectError{Addr: addr, Err: err}
}

func (s *source) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.conn.Close(ctx)
}

// queryErr names what failed, and says plainly when the table is missing.
func (s *source) queryErr(what string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "42P01": // undefined_table
			return fmt.Errorf("table %s does not exist in database %q: %w", Table, s.conn.Config().Database, err)
		case "42703": // undefined_column
			return fmt.Errorf("table %s does not have the contract's columns: %w", Table, err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// count counts the rows after id after: exactly when timeout is 0; within
// timeout, else the planner's estimate, when it is positive; the estimate
// alone when it is negative.
func (s *source) count(ctx context.Context, after int64, timeout time.Duration) (Plan, error) {
	p := Plan{From: s.from, To: s.to, After: after}
	var err error
	switch {
	case timeout == 0:
		err = s.conn.QueryRow(ctx, countSQL, after, s.from, s.to).Scan(&p.Count, &p.MinID, &p.MaxID)
	case timeout > 0:
		err = pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error {
			ms := max(timeout.Milliseconds(), 1) // 0 would mean no timeout
			if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = "+strconv.FormatInt(ms, 10)); err != nil {
				return err
			}
			return tx.QueryRow(ctx, countSQL, after, s.from, s.to).Scan(&p.Count, &p.MinID, &p.MaxID)
		})
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57014" { // 57014 query_canceled: the timeout
			break
		}
		fallthrough
	default:
		p.Count, p.MinID, p.MaxID = 0, 0, 0
		p.Count, err = s.estimate(ctx, after)
		p.Estimated = err == nil
	}
	if err != nil {
		return p, s.queryErr("count events", err)
	}
	return p, nil
}

// estimate is the planner's estimate of the rows after id after.
func (s *source) estimate(ctx context.Context, after int64) (int64, error) {
	// Literals, not parameters: a parameterised EXPLAIN cannot be prepared.
	// The values are an integer and timestamps formatted here.
	var out []byte
	err := s.conn.QueryRow(ctx, fmt.Sprintf(`EXPLAIN (FORMAT JSON) SELECT 1 FROM %s WHERE id > %d AND event_ts >= '%s' AND event_ts < '%s'`,
		Table, after, s.from.Format(time.RFC3339Nano), s.to.Format(time.RFC3339Nano)), pgx.QueryExecModeSimpleProtocol).Scan(&out)
	if err != nil {
		return 0, err
	}
	var plans []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		}
	}
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) == 0 {
		return 0, fmt.Errorf("unexpected plan %.200s", out)
	}
	return int64(plans[0].Plan.Rows), nil
}

// page is one query's rows, encoded.
type page struct {
	msgs []kafka.Message
	ids  []int64
	err  error // the read failed; msgs is empty
}

// read sends the pages after id after to out, in id order, and closes it.
// It stops at the first short page, an error (sent as a page), or ctx.
func (s *source) read(ctx context.Context, after int64, batch int, out chan<- page) {
	defer close(out)
	for {
		p, err := s.page(ctx, after, batch)
		if err != nil {
			p = page{err: err}
		}
		select {
		case out <- p:
		case <-ctx.Done():
			return
		}
		if err != nil || len(p.ids) < batch {
			return
		}
		after = p.ids[len(p.ids)-1]
	}
}

func (s *source) page(ctx context.Context, after int64, batch int) (page, error) {
	rows, err := s.conn.Query(ctx, pageSQL, after, s.from, s.to, batch)
	if err != nil {
		return page{}, s.queryErr(fmt.Sprintf("read events after id %d", after), err)
	}
	defer rows.Close()
	p := page{msgs: make([]kafka.Message, 0, batch), ids: make([]int64, 0, batch)}
	buf := make([]byte, 0, max(s.recSize, 64)*batch*9/8)
	var r row
	for rows.Next() {
		r.RawPayload = nil
		if err := rows.Scan(&r.ID, &r.ContentID, &r.UserID, &r.EventType, &r.EventTs, &r.DurationMs, &r.Device, &r.RawPayload); err != nil {
			return page{}, fmt.Errorf("read events after id %d: %w", after, err)
		}
		start := len(buf)
		buf = strconv.AppendInt(buf, r.ID, 10)
		mid := len(buf)
		buf = appendEvent(buf, &r)
		// Full slice expressions: a later append never writes into a record.
		p.msgs = append(p.msgs, kafka.Message{Key: buf[start:mid:mid], Value: buf[mid:len(buf):len(buf)]})
		p.ids = append(p.ids, r.ID)
	}
	if err := rows.Err(); err != nil {
		return page{}, s.queryErr(fmt.Sprintf("read events after id %d", after), err)
	}
	if len(p.ids) > 0 {
		s.recSize = len(buf) / len(p.ids)
	}
	return p, nil
}
