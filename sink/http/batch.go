package httpsink

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// batch is a run of one partition's records, offsets first..last, sent in
// one POST under one Idempotency-Key.
type batch struct {
	topic       string
	partition   int
	msgs        []kafka.Message // every record of the range, in offset order
	first, last int64
	key         string
	fromIntent  bool            // formed again from the committed intent
	body        []byte          // the request body, in the partition's reused buffer
	sent        []int           // indices of the records in the body
	dead        []kafka.Message // dead letters
}

// intentPrefix starts the commit metadata that announces a batch's end.
const intentPrefix = "httpsink/v1 end="

func intentMetadata(last int64) string { return intentPrefix + strconv.FormatInt(last, 10) }

func parseIntent(meta string) int64 {
	s, ok := strings.CutPrefix(meta, intentPrefix)
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// IdempotencyKey is the key of the batch made of msgs, one partition's
// records in offset order: "<topic>/<partition>/<first>-<last>/<hash>", hash
// being the first 8 bytes (hex) of SHA-256 over every record's offset, key and
// value. It depends only on the records, so sending them again sends the same
// key; the hash tells apart the same offsets of a re-created topic.
func IdempotencyKey(topic string, partition int, msgs []kafka.Message) string {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		if b == nil {
			binary.BigEndian.PutUint64(n[:], ^uint64(0))
		} else {
			binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		}
		h.Write(n[:])
		h.Write(b)
	}
	for i := range msgs {
		binary.BigEndian.PutUint64(n[:], uint64(msgs[i].Offset))
		h.Write(n[:])
		field(msgs[i].Key)
		field(msgs[i].Value)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	k := make([]byte, 0, len(topic)+64)
	k = append(k, topic...)
	k = append(k, '/')
	k = strconv.AppendInt(k, int64(partition), 10)
	k = append(k, '/')
	k = strconv.AppendInt(k, msgs[0].Offset, 10)
	k = append(k, '-')
	k = strconv.AppendInt(k, msgs[len(msgs)-1].Offset, 10)
	k = append(k, '/')
	k = hex.AppendEncode(k, sum[:8])
	return string(k)
}

func (p *partition) newBatch(msgs []kafka.Message, fromIntent bool) *batch {
	p.msgs = msgs
	return &batch{
		topic: p.s.cfg.Topic, partition: p.id, msgs: msgs,
		first: msgs[0].Offset, last: msgs[len(msgs)-1].Offset,
		key: IdempotencyKey(p.s.cfg.Topic, p.id, msgs), fromIntent: fromIntent, body: p.body, sent: p.sent,
	}
}

// collect forms the next batch. The batch announced by the committed
// metadata comes first, exactly as announced; then up to BatchSize records,
// waiting at most Linger after the first for more. With pending set it waits
// at most Linger for a first record, so an idle partition still commits its
// last batch. It returns nil when there is nothing (or the generation ended).
func (p *partition) collect(ctx context.Context, pending bool) *batch {
	msgs := p.msgs[:0]
	if p.carry != nil {
		msgs = append(msgs, *p.carry)
		p.carry = nil
	}
	if p.intentEnd >= 0 {
		var done bool
		if msgs, done = p.collectIntent(ctx, msgs); done {
			if len(msgs) == 0 {
				return nil
			}
			return p.newBatch(msgs, true)
		}
	}
	if len(msgs) == 0 {
		var idle <-chan time.Time
		if pending {
			t := time.NewTimer(p.s.cfg.Linger)
			defer t.Stop()
			idle = t.C
		}
		select {
		case m := <-p.in:
			msgs = append(msgs, m)
		case <-idle:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
	// Take what is already there, then linger for the rest.
	for len(msgs) < p.s.cfg.BatchSize {
		select {
		case m := <-p.in:
			msgs = append(msgs, m)
			continue
		default:
		}
		break
	}
	if len(msgs) < p.s.cfg.BatchSize {
		t := time.NewTimer(p.s.cfg.Linger)
	fill:
		for len(msgs) < p.s.cfg.BatchSize {
			select {
			case m := <-p.in:
				msgs = append(msgs, m)
			case <-t.C:
				break fill
			case <-ctx.Done():
				t.Stop()
				return nil
			}
		}
		t.Stop()
	}
	return p.newBatch(msgs, false)
}

// collectIntent gathers the records up to the announced end. done is false
// when the announced records are gone (deleted by retention): msgs then holds
// the first later record and an ordinary batch is formed.
func (p *partition) collectIntent(ctx context.Context, msgs []kafka.Message) (_ []kafka.Message, done bool) {
	end := p.intentEnd
	p.intentEnd = -1
	tick := time.NewTicker(max(p.s.cfg.Linger, 10*time.Millisecond))
	defer tick.Stop()
	for len(msgs) == 0 || msgs[len(msgs)-1].Offset < end {
		select {
		case m := <-p.in:
			if m.Offset > end {
				if len(msgs) == 0 {
					return append(msgs, m), false
				}
				p.carry = &m
				return msgs, true
			}
			msgs = append(msgs, m)
		case <-tick.C:
			// The log may end before the announced end (records lost in an
			// unclean leader election): send what there is.
			if n := len(msgs); n > 0 && len(p.in) == 0 && msgs[n-1].HighWaterMark <= end {
				return msgs, true
			}
		case <-ctx.Done():
			return nil, true
		}
	}
	return msgs, true
}
