package backfill

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/thmanyah/enricher/internal/atomicfile"
)

// checkpointVersion is the format of the checkpoint file.
const checkpointVersion = 1

// Checkpoint is the state of a backfill, saved after every page Kafka
// acknowledged. Every row of the range with an id at or below LastID is in
// Kafka; rows above it may be, when a run died with a page in flight.
type Checkpoint struct {
	Version int       `json:"version"`
	Table   string    `json:"table"`
	From    time.Time `json:"from"` // inclusive, on event_ts
	To      time.Time `json:"to"`   // exclusive
	Topic   string    `json:"topic"`
	// Batch and Rate are those of the run that saved the checkpoint; a
	// resumed run may change them.
	Batch int     `json:"batch"`
	Rate  float64 `json:"rate"`
	// LastID is the id of the last row acknowledged; nil when none was.
	LastID *int64 `json:"last_id"`
	// Sent counts the records acknowledged over every run of this range: a
	// page sent again after a crash is counted again.
	Sent      int64     `json:"sent"`
	Done      bool      `json:"done"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newCheckpoint(cfg *Config) Checkpoint {
	return Checkpoint{Version: checkpointVersion, Table: Table, From: cfg.From.UTC(), To: cfg.To.UTC(), Topic: cfg.Topic,
		Batch: cfg.Batch, Rate: cfg.Rate}
}

// After returns the id after which reading resumes: LastID, or the lowest
// int64 when nothing was acknowledged.
func (c Checkpoint) After() int64 {
	if c.LastID == nil {
		return minID
	}
	return *c.LastID
}

// String describes the checkpoint in one line.
func (c Checkpoint) String() string {
	last := "none yet"
	if c.LastID != nil {
		last = fmt.Sprint(*c.LastID)
	}
	return fmt.Sprintf("[%s, %s) to %s, last id %s, %d sent, done %t",
		c.From.Format(time.RFC3339Nano), c.To.Format(time.RFC3339Nano), c.Topic, last, c.Sent, c.Done)
}

// ErrNoCheckpoint is returned by LoadCheckpoint when the file does not exist.
var ErrNoCheckpoint = errors.New("no checkpoint")

// LoadCheckpoint reads a checkpoint file.
func LoadCheckpoint(path string) (Checkpoint, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, fmt.Errorf("checkpoint %s: %w", path, ErrNoCheckpoint)
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("read checkpoint: %w", err)
	}
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint %s is not a backfill checkpoint: %w", path, err)
	}
	if c.Version != checkpointVersion || c.Table != Table {
		return Checkpoint{}, fmt.Errorf("checkpoint %s: version %d of table %q, want version %d of %q",
			path, c.Version, c.Table, checkpointVersion, Table)
	}
	return c, nil
}

// compatible refuses to resume a checkpoint of another range or topic.
func (c Checkpoint) compatible(cfg *Config, path string) error {
	if c.From.Equal(cfg.From) && c.To.Equal(cfg.To) && c.Topic == cfg.Topic {
		return nil
	}
	return fmt.Errorf("checkpoint %s is for --from %s --to %s --topic %s, not --from %s --to %s --topic %s: "+
		"resume with its parameters, or use another --checkpoint",
		path, c.From.Format(time.RFC3339Nano), c.To.Format(time.RFC3339Nano), c.Topic,
		cfg.From.UTC().Format(time.RFC3339Nano), cfg.To.UTC().Format(time.RFC3339Nano), cfg.Topic)
}

// Save writes the checkpoint atomically: a temporary file in the same
// directory, fsync, rename over path, fsync of the directory. A crash at
// any point leaves either the old or the new checkpoint.
func (c Checkpoint) Save(path string) error {
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
