package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
	"go.uber.org/zap"
)

// DefaultHistoryRetention is used when Options.HistoryRetention is zero.
const DefaultHistoryRetention = 720 * time.Hour

// ErrClosed is returned by methods that need Badger after Close.
var ErrClosed = errors.New("store closed")

// Options configures Open.
type Options struct {
	Dir              string        // created when missing
	HistoryRetention time.Duration // 0 means DefaultHistoryRetention
	Logger           *zap.Logger   // nil means zap.NewNop(); Badger's warnings and errors go here

	tune func(badger.Options) badger.Options // tests: write as an older version did
}

// Store is the materialized view. Apply and Prune are serialized; Current,
// AsOf, Len and Offsets never wait for Badger.
type Store struct {
	db        *badger.DB
	dir       string
	log       *zap.Logger
	retention time.Duration

	shards [shardCount]shard
	live   atomic.Int64

	// mu serializes the writer side: Apply, Prune, Close.
	mu       sync.Mutex
	closed   atomic.Bool
	truncLSN atomic.Int64 // durable truncate watermark; written under mu
	truncTs  atomic.Int64 // commit time of the last truncate; orders LSN-less changes against it
	types    typeTable    // written under mu; see typeTable for readers
	tx       txnState     // scratch reused by Apply; guarded by mu

	offMu   sync.RWMutex
	offsets map[TopicPartition]int64 // as committed

	// Test hooks. maxTxnWrites > 0 caps the writes per Badger transaction so
	// tests can force the split that ErrTxnTooBig causes on big batches;
	// beforeCommit, when it fails, aborts the n-th transaction of an Apply.
	maxTxnWrites int
	beforeCommit func(n int) error
}

// Open opens (or creates) the store in opts.Dir and loads the in-memory index.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("open store: empty dir")
	}
	if opts.HistoryRetention < 0 {
		return nil, fmt.Errorf("open store %s: negative history retention %v", opts.Dir, opts.HistoryRetention)
	}
	if opts.HistoryRetention == 0 {
		opts.HistoryRetention = DefaultHistoryRetention
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	if err := checkTables(opts.Dir); err != nil {
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	bopt := badgerOptions(opts.Dir, opts.Logger)
	if opts.tune != nil {
		bopt = opts.tune(bopt)
	}
	if err := drainLogs(bopt); err != nil {
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	db, err := openBadger(bopt)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	s := &Store{
		db:        db,
		dir:       opts.Dir,
		log:       opts.Logger,
		retention: opts.HistoryRetention,
		offsets:   map[TopicPartition]int64{},
	}
	for i := range s.shards {
		s.shards[i].m = map[uuid.UUID]entry{}
	}
	start := time.Now()
	versions, err := s.loadSafe()
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	s.log.Info("store opened", zap.String("dir", opts.Dir), zap.Int("rows", s.Len()),
		zap.Int("versions", versions), zap.Int64("truncate_lsn", s.truncLSN.Load()),
		zap.Duration("took", time.Since(start)))
	return s, nil
}

// badgerOptions keeps Badger small: the whole service must fit in ~300 MB
// with 100k rows, and the hot path never reads Badger, so its caches buy
// little. SyncWrites stays off: rows and offsets share each transaction, so a
// power loss loses both together and the records are consumed again.
//
// The rest follows from what the view writes: every change is a new key (a
// version of a random id), never an overwrite, so compaction drops nothing
// but pruned versions and only re-sorts (BenchmarkApply, 2 cores):
//   - 8 MiB memtables (memTableSize): an insert into Badger's skiplist is a
//     chain of cache misses that lengthens with the memtable, and every
//     memtable's arena is fresh memory; half the size applied ~10% more
//     changes/s with a peak RSS ~90 MB lower. A transaction may carry 15%
//     of a memtable, 1.2 MiB: a 4096-record cdc batch fits while its values
//     average under ~270 bytes (ours are ~150), and a bigger one is split
//     (ErrTxnTooBig).
//   - Compacting level 0 at 20 tables (stalling writes at 40), not 5: random
//     ids make every level-0 table overlap the whole base level, which each
//     level-0 compaction rewrites, so taking more tables at a time rewrites
//     it less often. Reads that merge tables (Open's scan, Get, History,
//     List) may see 20 more: Open of 100k rows x 3 versions took ~6% longer.
//   - 2 MiB tables at every level, not 8 MiB doubling per level: a table
//     builder holds about three times its table in buffers that Badger pools
//     and keeps while writes go on; with a few million versions they held
//     hundreds of MB.
func badgerOptions(dir string, log *zap.Logger) badger.Options {
	opt := badger.DefaultOptions(dir).
		// Not WithLoggingLevel: it replaces the logger with Badger's own.
		WithLogger(badgerLogger{log.With(zap.String("component", "badger"))}).
		WithSyncWrites(false).
		WithMemTableSize(memTableSize).
		WithNumMemtables(2).
		WithNumLevelZeroTables(20).
		WithNumLevelZeroTablesStall(40).
		WithBaseTableSize(2 << 20).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(0).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
		WithNumVersionsToKeep(1).
		WithDetectConflicts(false). // one writer: conflict tracking is pure cost
		WithMetricsEnabled(false)
	opt.TableSizeMultiplier = 1 // no With method
	return opt
}

// memTableSize was 16 MiB before; drainLogs handles the logs of that size
// that a crash left behind.
const memTableSize = 8 << 20

// drainLogs replays memtable logs (.mem) too big for our memtables. Badger
// replays the logs a crash leaves into memtables of the configured size and,
// when one does not fit, exits the process (log.Fatal, which openBadger
// cannot recover): a crash under bigger memtables (16 MiB until they were
// halved) would otherwise stop the service at every start. Opening once with
// memtables as big as the biggest log lets Badger replay them; closing flushes
// them to tables and deletes them. A log holds at most a memtable and a
// transaction (15% of it) but Badger creates it at twice the memtable, so
// our own logs left by a crash are drained too: one more open, after a crash
// only.
func drainLogs(opt badger.Options) error {
	paths, err := filepath.Glob(filepath.Join(opt.Dir, "*.mem"))
	if err != nil {
		return err
	}
	var biggest int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		biggest = max(biggest, fi.Size())
	}
	if biggest <= opt.MemTableSize+opt.MemTableSize*15/100 {
		return nil
	}
	db, err := openBadger(opt.WithMemTableSize(biggest))
	if err != nil {
		return fmt.Errorf("replay memtable logs: %w", err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("replay memtable logs: %w", err)
	}
	return nil
}

// openBadger turns a panic on a damaged directory into an error: a corrupt
// data dir must stop the service with a reason, not a stack trace.
func openBadger(opt badger.Options) (db *badger.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("damaged data: badger panicked: %v", r)
		}
	}()
	return badger.Open(opt)
}

// Close flushes and closes Badger. The in-memory index stays readable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.dir, err)
	}
	return nil
}

// Offsets returns, per partition, the next offset to read, as committed with
// the rows it produced.
func (s *Store) Offsets() map[TopicPartition]int64 {
	s.offMu.RLock()
	defer s.offMu.RUnlock()
	out := make(map[TopicPartition]int64, len(s.offsets))
	for tp, o := range s.offsets {
		out[tp] = o
	}
	return out
}

// TruncateLSN returns the truncate watermark: changes with a known LSN below
// it are stale. 0 when no truncate with a known LSN was applied.
func (s *Store) TruncateLSN() int64 {
	return s.truncLSN.Load()
}

// badgerLogger forwards Badger's warnings and errors; its info and debug
// chatter (compactions, flushes) would drown the service's own logs.
type badgerLogger struct{ l *zap.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)))
}

func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)))
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
