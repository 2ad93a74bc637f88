package executor

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress reports a run's advance: a redrawn bar on a terminal (docs/s,
// MB/s, ETA), or a plain line every interval when output is a log.
type progress struct {
	w        io.Writer
	terminal bool
	every    time.Duration

	mu       sync.Mutex
	phase    int
	phases   int
	tasks    int
	tasksOK  int
	weight   float64
	weightOK float64
	start    time.Time
	last     time.Time
	drawn    bool

	docsRead  atomic.Int64
	bytesRead atomic.Int64
	docsOut   atomic.Int64
	bytesKept atomic.Int64

	stop chan struct{}
	wg   sync.WaitGroup
}

func newProgress(w io.Writer, terminal bool, every time.Duration) *progress {
	if every <= 0 {
		every = 10 * time.Second
		if terminal {
			every = 200 * time.Millisecond
		}
	}
	p := &progress{w: w, terminal: terminal, every: every, start: time.Now(), stop: make(chan struct{})}
	p.wg.Add(1)
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer p.wg.Done()
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.report()
		case <-p.stop:
			return
		}
	}
}

func (p *progress) finish() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func (p *progress) startPhase(phase, phases, tasks, done int, weight, weightDone float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phase, p.phases, p.tasks, p.tasksOK = phase, phases, tasks, done
	p.weight, p.weightOK = weight, weightDone
	p.start = time.Now()
	p.docsRead.Store(0)
	p.bytesRead.Store(0)
	p.docsOut.Store(0)
	p.bytesKept.Store(0)
}

func (p *progress) taskDone(w float64) {
	p.mu.Lock()
	p.tasksOK++
	p.weightOK += w
	p.mu.Unlock()
}

func (p *progress) addRead(bytes int64) {
	p.docsRead.Add(1)
	p.bytesRead.Add(bytes)
}

func (p *progress) addDocs(n, kept int64) {
	p.docsOut.Add(n)
	p.bytesKept.Add(kept)
}

// logf prints a line, clearing the bar first.
func (p *progress) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
	fmt.Fprintf(p.w, "kiln: "+format+"\n", args...)
}

func (p *progress) report() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phases == 0 {
		return // still planning and hashing inputs
	}
	el := time.Since(p.start).Seconds()
	docs := p.docsOut.Load()
	mb := float64(p.bytesRead.Load()) / 1e6
	var frac float64
	if p.weight > 0 {
		frac = p.weightOK / p.weight
	} else if p.tasks > 0 {
		frac = float64(p.tasksOK) / float64(p.tasks)
	}
	eta := "?"
	if frac > 0 && frac < 1 && el > 1 {
		eta = (time.Duration(el*(1-frac)/frac) * time.Second).Round(time.Second).String()
	}
	rate := func(x float64) float64 {
		if el <= 0 {
			return 0
		}
		return x / el
	}
	stats := fmt.Sprintf("phase %d/%d  %d/%d tasks  %d docs  %.0f docs/s  %.1f MB/s  ETA %s",
		p.phase+1, p.phases, p.tasksOK, p.tasks, docs, rate(float64(docs)), rate(mb), eta)
	if !p.terminal {
		fmt.Fprintf(p.w, "kiln: %s\n", stats)
		return
	}
	const width = 30
	n := int(frac * width)
	bar := strings.Repeat("#", n) + strings.Repeat(".", width-n)
	fmt.Fprintf(p.w, "\r\033[K[%s] %3.0f%%  %s", bar, frac*100, stats)
	p.drawn = true
}
