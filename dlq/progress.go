package dlq

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// NewBar returns a Progress drawing a bar with count and rate on w, which
// should be a terminal.
func NewBar(w io.Writer) Progress { return &bar{w: w} }

type bar struct {
	w    io.Writer
	pb   *progressbar.ProgressBar
	sent int
}

func (b *bar) Start(total int) {
	b.pb = progressbar.NewOptions(max(total, 1),
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription("dlq replay"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("records"),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	)
}

func (b *bar) Advance(sent int) {
	_ = b.pb.Add(sent - b.sent)
	b.sent = sent
}

func (b *bar) Finish(err error) {
	if b.pb == nil {
		return
	}
	if err != nil {
		_ = b.pb.Exit() // the bar stays where it stopped; the error follows on its own line
		return
	}
	_ = b.pb.Finish()
}
