package enricher

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/thmanyah/enricher/store"
)

// Decision is what the join does with an event.
type Decision string

const (
	DecisionHit  Decision = "hit"  // joined at once
	DecisionMiss Decision = "miss" // emitted at once without content fields
	DecisionHeld Decision = "held" // held, then joined or emitted as a miss
)

func (m Mode) String() string {
	if m == ModeLatest {
		return "latest"
	}
	return "asof"
}

// VersionReader reads whole stored versions; *store.Store is one. Explain
// uses it to say which version the join's in-memory answer is.
type VersionReader interface {
	VersionAt(id uuid.UUID, tsMs int64) (store.Version, store.At, error)
}

// Applied is the part of Freshness an explanation reads.
type Applied interface {
	AppliedTsMs() int64
	CaughtUpAt() time.Time
}

// ExplainConfig is what Explain needs of a Processor's configuration.
type ExplainConfig struct {
	View     View
	Versions VersionReader
	Fresh    Applied
	Mode     Mode
	JoinWait time.Duration
}

// Explanation says what the join would do now with an event for ContentID
// at EventTsMs.
type Explanation struct {
	ContentID uuid.UUID
	EventTsMs int64
	Mode      Mode
	Decision  Decision
	Reason    string
	// Version is what the join would use now (for held, what it would use
	// if nothing changed while held); nil when it finds none.
	Version *store.Version
}

// Explain answers, with the rule the pipeline applies (lookup,
// provisional), what an event for id at eventMs read now would be joined
// with. It reads the view like the pipeline and Badger for the version's
// details; a change applied between the two reads can make them disagree.
func Explain(cfg ExplainConfig, id uuid.UUID, eventMs int64, now time.Time) (Explanation, error) {
	if cfg.View == nil || cfg.Versions == nil || cfg.Fresh == nil {
		return Explanation{}, errors.New("explain: view, versions and freshness are required")
	}
	x := Explanation{ContentID: id, EventTsMs: eventMs, Mode: cfg.Mode}
	_, found := lookup(cfg.View, cfg.Mode, id, eventMs)
	at := eventMs
	if cfg.Mode == ModeLatest {
		at = math.MaxInt64
	}
	v, where, err := cfg.Versions.VersionAt(id, at)
	if err != nil {
		return Explanation{}, fmt.Errorf("explain %s: %w", id, err)
	}
	if found {
		x.Version = &v
	}
	applied := cfg.Fresh.AppliedTsMs()
	hold := cfg.JoinWait > 0 && provisional(cfg.Mode, found, eventMs, applied, now, cfg.Fresh.CaughtUpAt())
	switch {
	case found && !hold:
		x.Decision, x.Reason = DecisionHit, hitReason(cfg.Mode, &v, where)
	case found:
		x.Decision = DecisionHeld
		x.Reason = fmt.Sprintf("the event is newer than every content change the view applied (%s), so the view may be behind: it is held until the view catches up with the content topic (at most --join-wait %s), then joined with the version valid then; now that is %s",
			fmtMs(applied), cfg.JoinWait, hitReason(cfg.Mode, &v, where))
	case hold:
		x.Decision = DecisionHeld
		x.Reason = missReason(cfg.Mode, id, &v, where) + fmt.Sprintf("; the event is held until a change of this content is applied (at most --join-wait %s), then joined or emitted as a miss", cfg.JoinWait)
	default:
		x.Decision = DecisionMiss
		x.Reason = missReason(cfg.Mode, id, &v, where)
		if cfg.JoinWait == 0 {
			x.Reason += "; --join-wait is 0, so the event is emitted at once as a miss"
		}
	}
	return x, nil
}

// Explain is Explain with the processor's configuration, for an event read now.
func (e *Processor) Explain(id uuid.UUID, eventMs int64) (Explanation, error) {
	versions, ok := e.cfg.View.(VersionReader)
	if !ok {
		return Explanation{}, errors.New("explain: the view cannot read versions")
	}
	return Explain(ExplainConfig{View: e.cfg.View, Versions: versions, Fresh: e.cfg.Freshness, Mode: e.cfg.Mode, JoinWait: e.cfg.JoinWait}, id, eventMs, time.Now())
}

func hitReason(mode Mode, v *store.Version, where store.At) string {
	switch {
	case mode == ModeLatest:
		return fmt.Sprintf("joined with the current version (seq %d, %s, valid from %s): mode latest ignores the event time", v.Seq, v.Op, fmtMs(v.ValidFromMs))
	case where == store.AtBefore:
		return fmt.Sprintf("the event precedes the row's first version (valid from %s), so it is joined with that oldest version (seq %d)", fmtMs(v.ValidFromMs), v.Seq)
	}
	return fmt.Sprintf("joined with version seq %d (%s, valid from %s), the last valid at or before the event time", v.Seq, v.Op, fmtMs(v.ValidFromMs))
}

func missReason(mode Mode, id uuid.UUID, v *store.Version, where store.At) string {
	switch {
	case where == store.AtUnknown:
		return fmt.Sprintf("content %s is not in the view", id)
	case mode == ModeLatest:
		return fmt.Sprintf("content %s is deleted: its current version (seq %d, valid from %s) is a %s", id, v.Seq, fmtMs(v.ValidFromMs), v.Op)
	}
	return fmt.Sprintf("the version of content %s valid at the event time (seq %d, valid from %s) is a %s", id, v.Seq, fmtMs(v.ValidFromMs), v.Op)
}

func fmtMs(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
