package podio

import (
	"context"
	"errors"
	"io"
	"sync"
)

// errBroken: the other end of a pipe is gone.
var errBroken = errors.New("podio: stream closed")

// pipe is a bounded byte queue between an exec'd command and the requests
// that feed and drain it: a writer blocks while it is full, so a reader
// that does not come back holds the command back instead of making the
// node buffer without bound.
type pipe struct {
	mu      sync.Mutex
	buf     []byte
	max     int
	eof     bool          // the writer is done: reads drain, then EOF
	broken  bool          // the reader is gone: writes fail
	changed chan struct{} // closed and replaced on every change
}

func newPipe(max int) *pipe { return &pipe{max: max, changed: make(chan struct{})} }

// signal wakes the waiters; p.mu must be held.
func (p *pipe) signal() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// write appends b, waiting for room while the pipe is full.
func (p *pipe) write(ctx context.Context, b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		p.mu.Lock()
		if p.broken || p.eof {
			p.mu.Unlock()
			return n, errBroken
		}
		if room := p.max - len(p.buf); room > 0 {
			k := min(room, len(b))
			p.buf = append(p.buf, b[:k]...)
			b, n = b[k:], n+k
			p.signal()
			p.mu.Unlock()
			continue
		}
		wait := p.changed
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
	return n, nil
}

// closeWrite marks the end of the data.
func (p *pipe) closeWrite() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.eof {
		p.eof = true
		p.signal()
	}
}

// breakPipe makes writes fail from now on (the reader is gone).
func (p *pipe) breakPipe() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.broken {
		p.broken = true
		p.signal()
	}
}

// take removes up to max bytes without waiting; eof reports that the pipe
// is drained and its writer done.
func (p *pipe) take(max int) (b []byte, eof bool, wait <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := min(max, len(p.buf))
	if k > 0 {
		b = append([]byte(nil), p.buf[:k]...)
		p.buf = append(p.buf[:0], p.buf[k:]...)
		p.signal()
	}
	return b, p.eof && len(p.buf) == 0, p.changed
}

// reader reads a pipe as an io.Reader until EOF or ctx ends.
type reader struct {
	ctx context.Context
	p   *pipe
}

func (r reader) Read(b []byte) (int, error) {
	for {
		got, eof, wait := r.p.take(len(b))
		if len(got) > 0 {
			return copy(b, got), nil
		}
		if eof {
			return 0, io.EOF
		}
		select {
		case <-wait:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

// writer writes to a pipe as an io.Writer until ctx ends.
type writer struct {
	ctx context.Context
	p   *pipe
}

func (w writer) Write(b []byte) (int, error) { return w.p.write(w.ctx, b) }
