package store

// Batch collects changes and offset advances for one Apply. It is reusable
// (Reset) and its zero value is ready to use. Order matters: an Advance
// covers the changes recorded before it, so when Apply has to split a batch
// across transactions each transaction commits only the offsets of changes it
// contains.
type Batch struct {
	ops  []batchOp
	advs []batchAdvance
}

type batchOp struct {
	c        Change // for a truncate only c.Source is set
	truncate bool
}

type batchAdvance struct {
	tp   TopicPartition
	next int64
	at   int // number of ops recorded before this advance
}

// Put records an upsert, or a delete when c.Delete.
func (b *Batch) Put(c Change) { b.ops = append(b.ops, batchOp{c: c}) }

// Truncate records a table truncate (Debezium op 't').
func (b *Batch) Truncate(src Source) {
	b.ops = append(b.ops, batchOp{c: Change{Source: src}, truncate: true})
}

// Advance records that, once the changes recorded so far are applied, next
// is the offset to read from tp.
func (b *Batch) Advance(tp TopicPartition, next int64) {
	at := len(b.ops)
	// Consecutive advances of one partition with no change between them
	// collapse, so a consumer that advances per record costs one write.
	for i := len(b.advs) - 1; i >= 0 && b.advs[i].at == at; i-- {
		if b.advs[i].tp == tp {
			b.advs[i].next = next
			return
		}
	}
	b.advs = append(b.advs, batchAdvance{tp: tp, next: next, at: at})
}

// Len returns the number of changes (puts and truncates) recorded.
func (b *Batch) Len() int { return len(b.ops) }

// Reset empties the batch, keeping its capacity.
func (b *Batch) Reset() {
	clear(b.ops) // drop references to the rows' strings
	b.ops = b.ops[:0]
	clear(b.advs)
	b.advs = b.advs[:0]
}
