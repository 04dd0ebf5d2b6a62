package enricher

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go"
)

// What makes the output exactly-once without transactions, on the wire: where
// each output record came from, and where a restart must look for the
// records already written.

// HeaderSource is the header every output and DLQ record of the enricher
// carries: the position of the input record it stands for, in 16 bytes
// (CRC-32 IEEE of the input topic's name, partition, offset; big-endian). A
// partition's new owner reads the output written since the last commit and
// skips the input records whose positions it finds.
const HeaderSource = "enricher.src"

// sourcePos is an input record's position as HeaderSource carries it.
type sourcePos struct {
	topicHash uint32
	partition int32
	offset    int64
}

func topicHash(topic string) uint32 { return crc32.ChecksumIEEE([]byte(topic)) }

func appendSourcePos(dst []byte, p sourcePos) []byte {
	dst = binary.BigEndian.AppendUint32(dst, p.topicHash)
	dst = binary.BigEndian.AppendUint32(dst, uint32(p.partition))
	return binary.BigEndian.AppendUint64(dst, uint64(p.offset))
}

// sourcePosOf returns the position in m's HeaderSource; false when m has
// none or it is malformed (a record of an older version, or of another
// producer).
func sourcePosOf(m *kafka.Message) (sourcePos, bool) {
	for i := range m.Headers {
		h := &m.Headers[i]
		if h.Key != HeaderSource {
			continue
		}
		if len(h.Value) != 16 {
			return sourcePos{}, false
		}
		return sourcePos{
			topicHash: binary.BigEndian.Uint32(h.Value),
			partition: int32(binary.BigEndian.Uint32(h.Value[4:])),
			offset:    int64(binary.BigEndian.Uint64(h.Value[8:])),
		}, true
	}
	return sourcePos{}, false
}

// targetPartition is the output (or DLQ) partition every record of one
// input partition goes to: a fixed function of the input topic, its
// partition and the target's partition count, so a partition's new owner
// knows where its predecessor wrote. Consecutive partitions of one topic
// land on consecutive targets, so an input topic with as many partitions as
// the output uses all of them. Records are no longer placed by their key's
// hash; a key keeps one partition as long as the input is keyed the same way
// (Debezium keys by primary key), and records of one input partition keep
// their order.
func targetPartition(topic string, partition, n int) int {
	if n <= 0 {
		return 0
	}
	return int((uint64(topicHash(topic)) + uint64(partition)) % uint64(n))
}

// commitMeta is what the enricher stores with each committed offset (the
// commit's metadata string): where the output and the DLQ records of input
// records at or after the committed offset may start, by partition and
// offset. Every such record already written lies at or after these offsets,
// so a new owner reads only from there.
type commitMeta struct {
	out, dlq scanFrom
}

type scanFrom struct {
	partition int
	offset    int64
}

const metaPrefix = "eo1 "

func (c commitMeta) String() string {
	return fmt.Sprintf("%so=%d@%d d=%d@%d", metaPrefix, c.out.partition, c.out.offset, c.dlq.partition, c.dlq.offset)
}

var errNoMeta = errors.New("no exactly-once position with the committed offset")

// parseCommitMeta parses commitMeta.String's form; errNoMeta for anything
// else (an offset committed by an older version or by another consumer).
func parseCommitMeta(s string) (commitMeta, error) {
	rest, ok := strings.CutPrefix(s, metaPrefix)
	if !ok {
		return commitMeta{}, errNoMeta
	}
	var c commitMeta
	fields := strings.Fields(rest)
	if len(fields) != 2 {
		return commitMeta{}, fmt.Errorf("%w: %q", errNoMeta, s)
	}
	for i, f := range fields {
		name, val, ok := strings.Cut(f, "=")
		part, off, ok2 := strings.Cut(val, "@")
		if !ok || !ok2 || name != [2]string{"o", "d"}[i] {
			return commitMeta{}, fmt.Errorf("%w: %q", errNoMeta, s)
		}
		p, err1 := strconv.Atoi(part)
		o, err2 := strconv.ParseInt(off, 10, 64)
		if err1 != nil || err2 != nil || p < 0 || o < 0 {
			return commitMeta{}, fmt.Errorf("%w: %q", errNoMeta, s)
		}
		switch name {
		case "o":
			c.out = scanFrom{p, o}
		case "d":
			c.dlq = scanFrom{p, o}
		default:
			return commitMeta{}, fmt.Errorf("%w: %q", errNoMeta, s)
		}
	}
	return c, nil
}

// explicitPartition is the balancer of the enricher's writer: every record
// names its partition (targetPartition) before it is written.
type explicitPartition struct{}

func (explicitPartition) Balance(m kafka.Message, partitions ...int) int {
	for _, p := range partitions {
		if p == m.Partition {
			return p
		}
	}
	// The topic has fewer partitions than when the generation started (it
	// was recreated): the write then fails at the broker and is retried
	// after the next rebalance reads the partitions again.
	return m.Partition
}
