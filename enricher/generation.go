package enricher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/dlq"
	"github.com/thmanyah/enricher/internal/kafkax"
)

// generation is one consumer group generation of this member: the input
// partitions it owns, where each stands, the events it holds and the
// readers that fetch them.
type generation struct {
	e      *Processor
	gen    *kafka.Generation
	log    *zap.Logger
	parts  map[topicPartition]*partState // read-only once running
	tr     *tracker
	hold   *hold // nil with JoinWait 0
	client *kafka.Client

	chunks     chan []kafka.Message // from the partition readers, in each partition's order
	free       chan []kafka.Message // emptied chunks, for the readers to refill
	cur        []kafka.Message      // the chunk FetchMessage is serving
	pos        int                  // the next record of cur
	errs       chan error
	stopRead   context.CancelFunc
	readers    sync.WaitGroup
	kreaders   []*kafka.Reader
	rel        batch // released events on their way out; used by deliver only
	relEvents  []*heldEvent
	points     []commitPoint
	commitReqs map[string][]kafka.OffsetCommit
}

// runGeneration serves one generation: it finds where each assigned
// partition stands (and, exactly-once, what was already written past it),
// then runs the pipeline over the partitions until ctx ends, when the
// generation is over (a rebalance, or this member leaving).
func (e *Processor) runGeneration(ctx context.Context, gen *kafka.Generation) error {
	e.m.generations.Inc()
	g, err := e.startGeneration(ctx, gen)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer g.close()
	if len(g.parts) == 0 {
		e.log.Info("no partitions assigned in this generation", zap.Int32("generation", gen.ID))
		<-ctx.Done()
		return nil
	}
	g.log.Info("generation started", zap.Int("partitions", len(g.parts)))
	p := newPipeline(e.cfg.BatchSize, e.cfg.Linger, e.cfg.Workers)
	p.transform, p.deliver, p.commit = g.process, g.deliver, g.commit
	if g.hold != nil {
		p.wake = g.hold.wake
	}
	var ended atomic.Int64 // when the generation ended, unix ns
	stop := context.AfterFunc(ctx, func() { ended.Store(time.Now().UnixNano()) })
	defer stop()
	err = p.run(ctx, g)
	var drain time.Duration
	if ns := ended.Load(); ns != 0 {
		drain = time.Since(time.Unix(0, ns))
	}
	g.log.Info("generation over", zap.Duration("drain", drain), zap.Error(err))
	return err
}

func (e *Processor) startGeneration(ctx context.Context, gen *kafka.Generation) (*generation, error) {
	g := &generation{e: e, gen: gen, log: e.log.With(zap.Int32("generation", gen.ID)), parts: map[topicPartition]*partState{},
		client: &kafka.Client{Addr: kafka.TCP(e.cfg.Brokers...), Timeout: 15 * time.Second},
		tr:     &tracker{outTopic: e.cfg.OutputTopic, dlqTopic: e.cfg.DLQTopic, front: &e.front, exactlyOne: e.cfg.ExactlyOnce}}
	for topic, as := range gen.Assignments {
		for _, a := range as {
			ps := &partState{topicPartition: topicPartition{topic, a.ID}, hash: topicHash(topic), skipMax: -1}
			g.parts[ps.topicPartition] = ps
			g.tr.parts = append(g.tr.parts, ps)
		}
	}
	slices.SortFunc(g.tr.parts, func(a, b *partState) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	if len(g.parts) == 0 {
		return g, nil
	}
	needCommit, err := g.locate(ctx)
	if err != nil {
		return nil, err
	}
	if len(needCommit) > 0 {
		// Before anything is written for them: from now on the committed
		// position says where to look after a crash.
		g.points = g.tr.points(g.points[:0])
		if err := g.commitPoints(ctx, ctx); err != nil {
			return nil, fmt.Errorf("commit starting positions: %w", err)
		}
	}
	// Every partition owned shows on /debug/stats from the start, not only
	// once a commit moved it.
	e.mu.Lock()
	for _, ps := range g.tr.parts {
		end := max(ps.hwm, ps.start)
		e.positions[ps.topicPartition] = kafkax.PartitionStatus{Topic: ps.topic, Partition: ps.partition, Offset: ps.start, EndOffset: end, Lag: end - ps.start}
		e.m.lag.WithLabelValues(ps.topic, strconv.Itoa(ps.partition)).Set(float64(end - ps.start))
	}
	e.mu.Unlock()
	if e.cfg.JoinWait > 0 {
		g.hold = newHold(ctx, e.cfg.JoinWait, e.cfg.HoldMaxEvents, e.cfg.HoldMaxBytes, e.cfg.Freshness, e.m, g.log)
		e.onApply.Store(g.hold)
	}
	g.startReaders()
	return g, nil
}

// locate sets every partition's start offset, output and DLQ partitions and
// skip set, raises the frontiers to the output's end offsets, and returns
// the partitions whose committed position must be written before they are
// processed (none was, or it was one the scan could not use).
func (g *generation) locate(ctx context.Context) ([]*partState, error) {
	e := g.e
	md, err := g.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{e.cfg.OutputTopic, e.cfg.DLQTopic}})
	if err != nil {
		return nil, fmt.Errorf("read output topic metadata: %w", err)
	}
	counts := map[string]int{}
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		counts[t.Name] = len(t.Partitions)
	}
	nOut, nDLQ := counts[e.cfg.OutputTopic], counts[e.cfg.DLQTopic]
	if nOut == 0 || nDLQ == 0 {
		return nil, fmt.Errorf("topics %s and %s must exist (found %d and %d partitions)", e.cfg.OutputTopic, e.cfg.DLQTopic, nOut, nDLQ)
	}

	fetch := map[string][]int{}
	for _, ps := range g.tr.parts {
		ps.out = targetPartition(ps.topic, ps.partition, nOut)
		ps.dlq = targetPartition(ps.topic, ps.partition, nDLQ)
		fetch[ps.topic] = append(fetch[ps.topic], ps.partition)
	}
	of, err := g.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: g.gen.GroupID, Topics: fetch})
	if err == nil {
		err = of.Error
	}
	if err != nil {
		return nil, fmt.Errorf("fetch committed offsets: %w", err)
	}
	committed := map[topicPartition]kafka.OffsetFetchPartition{}
	for topic, ps := range of.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("fetch committed offset of %s/%d: %w", topic, p.Partition, p.Error)
			}
			committed[topicPartition{topic, p.Partition}] = p
		}
	}

	// The input partitions' bounds, and the output and DLQ partitions' ends.
	lo := map[string][]kafka.OffsetRequest{}
	for _, ps := range g.tr.parts {
		lo[ps.topic] = append(lo[ps.topic], kafka.FirstOffsetOf(ps.partition), kafka.LastOffsetOf(ps.partition))
	}
	for p := range nOut {
		lo[e.cfg.OutputTopic] = append(lo[e.cfg.OutputTopic], kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	for p := range nDLQ {
		lo[e.cfg.DLQTopic] = append(lo[e.cfg.DLQTopic], kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	lr, err := g.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: lo})
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	bounds := map[topicPartition]kafka.PartitionOffsets{}
	for topic, ps := range lr.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("list offsets of %s/%d: %w", topic, p.Partition, p.Error)
			}
			bounds[topicPartition{topic, p.Partition}] = p
		}
	}
	for p := range nOut {
		tp := topicPartition{e.cfg.OutputTopic, p}
		e.front.raise(tp, bounds[tp].LastOffset)
	}
	for p := range nDLQ {
		tp := topicPartition{e.cfg.DLQTopic, p}
		e.front.raise(tp, bounds[tp].LastOffset)
	}

	var need []*partState
	scans := map[topicPartition]*tailScan{}
	addScan := func(topic string, partition int, from int64, ps *partState) {
		tp := topicPartition{topic, partition}
		s := scans[tp]
		if s == nil {
			s = &tailScan{topic: topic, partition: partition, from: from, to: bounds[tp].LastOffset}
			if topic == e.cfg.DLQTopic {
				s.foreign = g.foreignDLQ
			}
			scans[tp] = s
		}
		s.from = min(s.from, from)
		s.parts = append(s.parts, ps)
	}
	for _, ps := range g.tr.parts {
		b := bounds[ps.topicPartition]
		c := committed[ps.topicPartition]
		ps.hwm = b.LastOffset
		switch {
		case c.CommittedOffset < 0:
			ps.start = b.FirstOffset // a new group starts from the earliest offset
		case c.CommittedOffset < b.FirstOffset:
			g.log.Warn("committed offset no longer in the topic (retention); starting from the earliest",
				zap.String("topic", ps.topic), zap.Int("partition", ps.partition), zap.Int64("committed", c.CommittedOffset), zap.Int64("earliest", b.FirstOffset))
			ps.start = b.FirstOffset
		default:
			ps.start = c.CommittedOffset
		}
		ps.done, ps.committed = ps.start, c.CommittedOffset
		if !e.cfg.ExactlyOnce {
			continue
		}
		if c.CommittedOffset < 0 {
			need = append(need, ps) // nothing was ever written for it: this member commits first
			continue
		}
		meta, err := parseCommitMeta(c.Metadata)
		switch {
		case err != nil:
			g.fallback(ps, "no_position", "the committed offset carries no output position (committed by an older version?)")
		case meta.out.partition != ps.out || meta.dlq.partition != ps.dlq:
			g.fallback(ps, "repartitioned", fmt.Sprintf("the output or DLQ partition count changed (was writing to %d and %d, now %d and %d)",
				meta.out.partition, meta.dlq.partition, ps.out, ps.dlq))
		default:
			ps.meta, ps.metaValid = meta, true
			addScan(e.cfg.OutputTopic, ps.out, meta.out.offset, ps)
			addScan(e.cfg.DLQTopic, ps.dlq, meta.dlq.offset, ps)
			continue
		}
		need = append(need, ps)
	}
	return need, g.scan(ctx, scans, bounds)
}

// scan runs the tail scans side by side and turns what they found into skip
// sets; a scan that fails leaves its partitions at-least-once.
func (g *generation) scan(ctx context.Context, scans map[topicPartition]*tailScan, bounds map[topicPartition]kafka.PartitionOffsets) error {
	if len(scans) == 0 {
		return nil
	}
	start := time.Now()
	var wg sync.WaitGroup
	for tp, s := range scans {
		if first := bounds[tp].FirstOffset; s.from < first {
			for _, ps := range s.parts {
				g.fallback(ps, "truncated", fmt.Sprintf("%s/%d from offset %d was deleted (retention); records there cannot be checked", tp.topic, tp.partition, s.from))
			}
			s.from = first
		}
		if s.from > s.to {
			for _, ps := range s.parts {
				g.fallback(ps, "unreadable", fmt.Sprintf("%s/%d ends at %d, before the committed position %d (was the topic recreated?)", tp.topic, tp.partition, s.to, s.from))
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(ctx, g.e.cfg.Brokers, g.log)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var read, skips int
	for tp, s := range scans {
		read += s.read
		g.e.m.scanRecords.Add(float64(s.read))
		switch {
		case s.err != nil:
			for _, ps := range s.parts {
				g.fallback(ps, "unreadable", fmt.Sprintf("read %s/%d: %v", tp.topic, tp.partition, s.err))
			}
		case s.noHeader > 0:
			for _, ps := range s.parts {
				g.fallback(ps, "no_header", fmt.Sprintf("%d records in %s/%d since offset %d carry no %s header (written by an older version?)",
					s.noHeader, tp.topic, tp.partition, s.from, HeaderSource))
			}
		}
		for ps, offs := range s.found {
			if ps.skip == nil {
				ps.skip = map[int64]struct{}{}
			}
			for _, o := range offs {
				ps.skip[o] = struct{}{}
				ps.skipMax = max(ps.skipMax, o)
			}
			skips += len(offs)
		}
	}
	for _, ps := range g.tr.parts {
		if ps.skipMax >= 0 {
			// What the scan found stays covered by the committed position
			// until the commits pass it.
			ps.marks = append(ps.marks, mark{maxSrc: ps.skipMax, out: ps.meta.out.offset, dlq: ps.meta.dlq.offset})
		}
	}
	g.e.m.scanTime.Observe(time.Since(start).Seconds())
	g.log.Info("output since the committed positions read", zap.Int("partitions", len(scans)), zap.Int("records", read),
		zap.Int("already_written", skips), zap.Duration("took", time.Since(start)))
	return nil
}

// foreignDLQ reports whether a DLQ record without a position came from
// another consumer than the enricher (the content view's, a sink's): its
// source topic is none of the engagement topics.
func (g *generation) foreignDLQ(m *kafka.Message) bool {
	for _, h := range m.Headers {
		if h.Key == dlq.HeaderTopic {
			return !slices.Contains(g.e.cfg.Topics, string(h.Value))
		}
	}
	return false
}

// fallback logs, once per partition and generation, why ps runs
// at-least-once this generation.
func (g *generation) fallback(ps *partState, reason, why string) {
	g.e.m.fallbacks.WithLabelValues(reason).Inc()
	g.log.Warn("exactly-once unavailable for this partition until its next commit; records written before may be written again: "+why,
		zap.String("topic", ps.topic), zap.Int("partition", ps.partition), zap.String("reason", reason))
}

// Records travel from a partition's reader goroutine to the fetch loop in
// chunks of up to chunkSize, one channel operation each rather than one per
// record. Channel locking (selectgo, sellock, lock2) was 15-20% of the
// service's CPU on 16 cores (ENGINEERING.md's profile), and a per-record
// hand-off from six partition goroutines into one channel was part of it. A chunk
// is handed over when full or when its partition has had nothing more for
// chunkLinger, which is all the latency chunking adds.
const (
	chunkSize   = 256
	chunkLinger = 500 * time.Microsecond
)

// startReaders starts one reader per partition at its start offset; their
// records meet in g.chunks, which FetchMessage serves to the pipeline.
func (g *generation) startReaders() {
	ctx, cancel := context.WithCancel(context.Background())
	g.stopRead = cancel
	queue := newPipeline(g.e.cfg.BatchSize, 0, 0).batchSize
	g.chunks = make(chan []kafka.Message, max(queue/chunkSize, 1))
	g.free = make(chan []kafka.Message, cap(g.chunks)+len(g.tr.parts)+1)
	g.errs = make(chan error, len(g.tr.parts))
	for _, ps := range g.tr.parts {
		// A batch's worth of queue per partition, as the group reader had
		// for all of them: kafka-go's default of 100 stalls its fetches.
		r := kafka.NewReader(kafkax.PartitionReaderConfig(g.e.cfg.Brokers, ps.topic, ps.partition, queue, g.log))
		g.kreaders = append(g.kreaders, r)
		if err := r.SetOffset(ps.start); err != nil {
			g.errs <- err
			continue
		}
		g.readers.Add(1)
		go func() {
			defer g.readers.Done()
			if err := g.readPartition(ctx, r); err != nil && ctx.Err() == nil {
				g.errs <- fmt.Errorf("read %s/%d: %w", ps.topic, ps.partition, err)
			}
		}()
	}
}

// readPartition moves r's records into g.chunks until ctx ends or r fails.
func (g *generation) readPartition(ctx context.Context, r *kafka.Reader) error {
	for {
		var c []kafka.Message
		select {
		case c = <-g.free:
		default:
			c = make([]kafka.Message, 0, chunkSize)
		}
		m, err := r.FetchMessage(ctx) // the first record of a chunk may wait for ever
		if err != nil {
			return err
		}
		c = append(c, m)
		lctx, cancel := context.WithTimeout(ctx, chunkLinger)
		for len(c) < chunkSize {
			if m, err = r.FetchMessage(lctx); err != nil {
				break
			}
			c = append(c, m)
		}
		cancel()
		select {
		case g.chunks <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// FetchMessage returns the next record of any of the generation's
// partitions. Only the pipeline's fetch loop calls it.
func (g *generation) FetchMessage(ctx context.Context) (kafka.Message, error) {
	if g.pos == len(g.cur) {
		if g.cur != nil {
			// Its records were copied out; let go of what they point to.
			clear(g.cur)
			select {
			case g.free <- g.cur[:0]:
			default:
			}
			g.cur, g.pos = nil, 0
		}
		select {
		case g.cur = <-g.chunks:
		case err := <-g.errs:
			return kafka.Message{}, err
		case <-ctx.Done():
			return kafka.Message{}, ctx.Err()
		}
	}
	m := g.cur[g.pos]
	g.pos++
	return m, nil
}

func (g *generation) close() {
	if g.stopRead != nil {
		g.stopRead()
	}
	for _, r := range g.kreaders {
		_ = r.Close()
	}
	g.readers.Wait()
	if g.hold != nil {
		g.e.onApply.CompareAndSwap(g.hold, nil)
		g.hold.close()
	}
}

// commit commits every partition whose position moved since the last commit.
func (g *generation) commit(ctx, workCtx context.Context, _ []*batch) {
	start := time.Now()
	g.points = g.tr.points(g.points[:0])
	if len(g.points) == 0 {
		return
	}
	defer func() { g.e.m.commitTime.Observe(time.Since(start).Seconds()) }()
	err := g.commitPoints(ctx, workCtx)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// Shutting down: the records are read again after the restart.
	default:
		g.log.Warn("commit engagement offsets failed; a later commit covers them, or the partition's next owner skips what was written",
			zap.Int("partitions", len(g.points)), zap.Error(err))
	}
}

// commitPoints commits g.points with this generation's id, retrying
// transient failures; an answer that says the generation is over is final.
func (g *generation) commitPoints(ctx, workCtx context.Context) error {
	e := g.e
	clear(g.commitReqs)
	if g.commitReqs == nil {
		g.commitReqs = map[string][]kafka.OffsetCommit{}
	}
	for _, cp := range g.points {
		oc := kafka.OffsetCommit{Partition: cp.ps.partition, Offset: cp.offset}
		if e.cfg.ExactlyOnce {
			oc.Metadata = cp.meta.String()
		}
		g.commitReqs[cp.ps.topic] = append(g.commitReqs[cp.ps.topic], oc)
	}
	req := &kafka.OffsetCommitRequest{GroupID: g.gen.GroupID, GenerationID: int(g.gen.ID), MemberID: g.gen.MemberID, Topics: g.commitReqs}
	var err error
	for attempt := 0; attempt < kafkax.CommitAttempts; attempt++ {
		var res *kafka.OffsetCommitResponse
		res, err = g.client.OffsetCommit(workCtx, req)
		if err == nil {
			err = firstCommitError(res)
		}
		if err == nil {
			break
		}
		if generationOver(err) || attempt+1 == kafkax.CommitAttempts || ctx.Err() != nil {
			return err
		}
		e.m.retries.WithLabelValues("commit").Inc()
		g.log.Warn("commit engagement offsets; retrying", zap.Error(err))
		if e.cfg.Backoff.Wait(ctx, attempt) != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	g.tr.committed(g.points)
	// hwm is written under the tracker's lock by the delivery goroutine.
	ends := make([]int64, len(g.points))
	g.tr.mu.Lock()
	for i, cp := range g.points {
		ends[i] = max(cp.ps.hwm, cp.offset)
	}
	g.tr.mu.Unlock()
	e.mu.Lock()
	for i, cp := range g.points {
		ps := cp.ps
		end := ends[i]
		e.m.lag.WithLabelValues(ps.topic, strconv.Itoa(ps.partition)).Set(float64(end - cp.offset))
		e.positions[ps.topicPartition] = kafkax.PartitionStatus{Topic: ps.topic, Partition: ps.partition, Offset: cp.offset, EndOffset: end, Lag: end - cp.offset}
	}
	e.mu.Unlock()
	return nil
}

func firstCommitError(res *kafka.OffsetCommitResponse) error {
	for topic, ps := range res.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return fmt.Errorf("%s/%d: %w", topic, p.Partition, p.Error)
			}
		}
	}
	return nil
}

// generationOver reports whether a commit failed because this member's
// generation is over: retrying cannot help, the next owner takes over.
func generationOver(err error) bool {
	return errors.Is(err, kafka.RebalanceInProgress) || errors.Is(err, kafka.IllegalGeneration) ||
		errors.Is(err, kafka.UnknownMemberId) || errors.Is(err, kafka.FencedInstanceID)
}
