package dlq

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/thmanyah/enricher/internal/atomicfile"
)

const checkpointVersion = 1

// DefaultCheckpoint is the checkpoint file of a replay from topic when none
// is named: in the current directory, named after the DLQ topic.
func DefaultCheckpoint(topic string) string { return "dlq-replay." + topic + ".json" }

// Checkpoint records which DLQ positions were replayed and acknowledged,
// so that running a replay again never sends a record twice.
type Checkpoint struct {
	Version int    `json:"version"`
	Topic   string `json:"dlq_topic"`
	// Replayed holds, per partition (decimal text, as JSON keys are), the
	// offsets replayed, ascending.
	Replayed  map[string][]int64 `json:"replayed"`
	UpdatedAt time.Time          `json:"updated_at"`

	set map[int]map[int64]bool
}

// LoadCheckpoint reads the checkpoint at path; a file that does not exist
// is an empty checkpoint of topic. One of another topic is refused.
func LoadCheckpoint(path, topic string) (*Checkpoint, error) {
	c := &Checkpoint{Version: checkpointVersion, Topic: topic, Replayed: map[string][]int64{}, set: map[int]map[int64]bool{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("checkpoint %s is not a dlq replay checkpoint: %w", path, err)
	}
	if c.Version != checkpointVersion || c.Topic != topic {
		return nil, fmt.Errorf("checkpoint %s is version %d of dlq topic %q, not version %d of %q: use another checkpoint file",
			path, c.Version, c.Topic, checkpointVersion, topic)
	}
	for p, offs := range c.Replayed {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: partition %q is not a number", path, p)
		}
		for _, o := range offs {
			c.mark(n, o)
		}
	}
	return c, nil
}

// Has says whether the record at partition/offset was replayed.
func (c *Checkpoint) Has(partition int, offset int64) bool { return c.set[partition][offset] }

// Count is the number of records replayed.
func (c *Checkpoint) Count() int {
	n := 0
	for _, s := range c.set {
		n += len(s)
	}
	return n
}

func (c *Checkpoint) mark(partition int, offset int64) {
	if c.set[partition] == nil {
		c.set[partition] = map[int64]bool{}
	}
	c.set[partition][offset] = true
}

// Save writes the checkpoint atomically: a temporary file in the same
// directory, fsync, rename over path, fsync of the directory; a crash
// leaves the old file or the new one.
func (c *Checkpoint) Save(path string) error {
	c.Replayed = make(map[string][]int64, len(c.set))
	for p, s := range c.set {
		offs := make([]int64, 0, len(s))
		for o := range s {
			offs = append(offs, o)
		}
		slices.Sort(offs)
		c.Replayed[strconv.Itoa(p)] = offs
	}
	c.UpdatedAt = time.Now().UTC()
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	b = append(b, '\n')
	if err := atomicfile.Write(path, b); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}
