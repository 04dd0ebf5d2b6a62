package redissink

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/thmanyah/enricher/schemas"
)

// Outcomes of a record, the label of the events metric.
const (
	outApplied     = "applied"
	outDuplicate   = "duplicate"
	outOutOfWindow = "out_of_window"
	outNoContent   = "no_content"
	outDLQ         = "dlq"
)

const (
	chunkEvents = 512              // events per script call: bounds how long one call blocks Redis
	seenShift   = 9                // a seen set holds the 512 event ids sharing id>>9: an intset
	grace       = 60 * time.Second // keys outlive their last use in the window by this much
)

// applyScript adds each event to its second and minute buckets unless its id
// is already in its seen set, atomically per call. The increments of the new
// events are summed per bucket and member first, so a burst of events of one
// content in one second costs one ZINCRBY per bucket (Lua numbers are doubles
// and reach Redis as %.17g text: nothing is rounded beyond the sum itself).
//
// KEYS[1] is the state key, KEYS[2] the content type hash, the rest buckets
// and seen sets. ARGV: number of events, number of content types, then one
// TTL (ms) per key, then six fields per event (seen key index, second key
// index, minute key index, event id, seconds, content id), then pairs of
// content id and content type. It returns whether the state key exists,
// then 1 (applied) or 0 (duplicate) per event.
var applyScript = redis.NewScript(`
local nev, nct, nk = tonumber(ARGV[1]), tonumber(ARGV[2]), #KEYS
local base = 2 + nk
local out = {redis.call('EXISTS', KEYS[1])}
local touched, sums = {}, {}
local function add(k, member, v)
  local m = sums[k]
  if m == nil then m = {}; sums[k] = m end
  m[member] = (m[member] or 0) + v
end
for j = 1, nev do
  local o = base + (j - 1) * 6
  local seen = tonumber(ARGV[o + 1])
  if redis.call('SADD', KEYS[seen], ARGV[o + 4]) == 1 then
    local s, m, v = tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3]), tonumber(ARGV[o + 5])
    add(s, ARGV[o + 6], v)
    add(m, ARGV[o + 6], v)
    touched[seen] = true
    out[j + 1] = 1
  else
    out[j + 1] = 0
  end
end
for k, members in pairs(sums) do
  for member, v in pairs(members) do
    redis.call('ZINCRBY', KEYS[k], v, member)
  end
  touched[k] = true
end
for i in pairs(touched) do
  local ttl = tonumber(ARGV[2 + i])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
local t = base + nev * 6
for j = 1, nct do
  redis.call('HSET', KEYS[2], ARGV[t + 2 * j - 1], ARGV[t + 2 * j])
end
return out
`)

// item is one record on its way through a batch.
type item struct {
	msg    *kafka.Message
	out    schemas.Output
	err    error
	result string // outcome once decided; "" while it still has to be applied
}

// seconds is the event's second since the epoch (floor).
func seconds(t time.Time) int64 {
	ms := t.UnixMilli()
	if ms < 0 {
		return (ms - 999) / 1000
	}
	return ms / 1000
}

// checkDecoded decides what a decoded record is worth: nothing (no content
// id or no engagement seconds), a DLQ entry (seconds that would corrupt a
// sum), or an event to apply ("").
func checkDecoded(o *schemas.Output) (string, error) {
	if !o.ContentID.Valid || !o.EngagementSeconds.Valid {
		return outNoContent, nil
	}
	if v := o.EngagementSeconds.Float64; math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return outDLQ, fmt.Errorf("event %d: engagement_seconds %v is not a finite non-negative number", o.EventID, v)
	}
	return "", nil
}

// minuteOf is the minute (since the epoch, floor) holding second s.
func minuteOf(s int64) int64 {
	if s < 0 {
		return (s - 59) / 60
	}
	return s / 60
}

// window is the sliding window at one instant, in whole seconds: an event
// counts while lo <= its second <= hi.
type window struct{ lo, hi, nowMs, size int64 }

func windowAt(now time.Time, size time.Duration) window {
	s := int64(size / time.Second)
	hi := seconds(now)
	return window{lo: hi - s + 1, hi: hi, nowMs: now.UnixMilli(), size: s}
}

// accepts reports whether an event of second sec is kept: inside the window,
// or ahead of it (a producer's clock) by less than one window, in which case
// it becomes visible when the window reaches it.
func (w window) accepts(sec int64) bool { return sec >= w.lo && sec <= w.hi+w.size }

// ttl is the time to live (ms) of a key last needed while the window still
// holds second last.
func (w window) ttl(last int64) int64 {
	return max((last+w.size)*1000+grace.Milliseconds()-w.nowMs, 1000)
}

// keyRef identifies a working key before its name is built.
type keyRef struct {
	kind byte // 's' second bucket, 'm' minute bucket, 'x' seen set
	n    int64
}

// applier turns items into script calls; each goroutine has its own.
type applier struct {
	k      keys
	size   time.Duration
	rdb    redis.UniversalClient
	loaded bool

	idx  map[keyRef]int
	keys []string
	ttl  []int64
}

func newApplier(k keys, size time.Duration, rdb redis.UniversalClient) *applier {
	return &applier{k: k, size: size, rdb: rdb, idx: map[keyRef]int{}}
}

// apply decides every undecided item against the window at now and applies
// the ones inside it, in pipelined script calls of chunkEvents events. Items
// of calls that succeeded keep their outcome when another call failed, so a
// retry only sends what is still undecided. lost is true when a call found
// the state key missing: Redis lost its data since the last rebuild.
func (a *applier) apply(ctx context.Context, items []item, now time.Time) (lost bool, err error) {
	w := windowAt(now, a.size)
	var todo []int
	for i := range items {
		it := &items[i]
		if it.result != "" {
			continue
		}
		if !w.accepts(seconds(it.out.EventTs)) {
			it.result = outOutOfWindow
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return false, nil
	}
	if !a.loaded {
		if err := applyScript.Load(ctx, a.rdb).Err(); err != nil {
			return false, fmt.Errorf("load apply script: %w", err)
		}
		a.loaded = true
	}
	pipe := a.rdb.Pipeline()
	var chunks [][]int
	var cmds []*redis.Cmd
	for start := 0; start < len(todo); start += chunkEvents {
		chunk := todo[start:min(start+chunkEvents, len(todo))]
		keys, args := a.build(items, chunk, w)
		chunks = append(chunks, chunk)
		cmds = append(cmds, applyScript.EvalSha(ctx, pipe, keys, args...))
	}
	_, _ = pipe.Exec(ctx) // errors are per command, read below
	var firstErr error
	for c, cmd := range cmds {
		res, err := cmd.Int64Slice()
		if err == nil && len(res) != len(chunks[c])+1 {
			err = fmt.Errorf("apply script answered %d values for %d events", len(res), len(chunks[c]))
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		lost = lost || res[0] == 0
		for j, i := range chunks[c] {
			if res[j+1] == 1 {
				items[i].result = outApplied
			} else {
				items[i].result = outDuplicate
			}
		}
	}
	if firstErr != nil {
		a.loaded = false // a restarted Redis has forgotten the script
		return lost, fmt.Errorf("apply events to redis: %w", firstErr)
	}
	return lost, nil
}

// build returns the keys and arguments of one script call.
func (a *applier) build(items []item, chunk []int, w window) ([]string, []any) {
	clear(a.idx)
	a.keys = append(a.keys[:0], a.k.state, a.k.types)
	a.ttl = append(a.ttl[:0], 0, 0)
	ref := func(r keyRef, last int64) int {
		i, ok := a.idx[r]
		if !ok {
			i = len(a.keys)
			a.idx[r] = i
			var name string
			switch r.kind {
			case 's':
				name = a.k.second + strconv.FormatInt(r.n, 10)
			case 'm':
				name = a.k.minute + strconv.FormatInt(r.n, 10)
			default:
				name = a.k.seen + strconv.FormatInt(r.n, 10)
			}
			a.keys = append(a.keys, name)
			a.ttl = append(a.ttl, 0)
		}
		a.ttl[i] = max(a.ttl[i], w.ttl(last))
		return i + 1 // Lua is 1-based
	}
	type ev struct {
		seen, sec, min int
		it             *item
	}
	evs := make([]ev, 0, len(chunk))
	types := map[string]string{}
	for _, i := range chunk {
		it := &items[i]
		s := seconds(it.out.EventTs)
		m := minuteOf(s)
		evs = append(evs, ev{
			seen: ref(keyRef{'x', it.out.EventID >> seenShift}, s),
			sec:  ref(keyRef{'s', s}, s),
			min:  ref(keyRef{'m', m}, m*60+59),
			it:   it,
		})
		if it.out.ContentType.Valid {
			types[it.out.ContentID.String] = it.out.ContentType.String
		}
	}
	args := make([]any, 0, 2+len(a.keys)+6*len(evs)+2*len(types))
	args = append(args, len(evs), len(types))
	for _, t := range a.ttl {
		args = append(args, t)
	}
	for _, e := range evs {
		args = append(args, e.seen, e.sec, e.min, e.it.out.EventID, e.it.out.EngagementSeconds.Float64, e.it.out.ContentID.String)
	}
	for id, t := range types {
		args = append(args, id, t)
	}
	return append([]string(nil), a.keys...), args
}
