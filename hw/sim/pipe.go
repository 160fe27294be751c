package sim

import (
	"io"
	"os"
	"sync"
	"time"
)

// pipeCap is how much one direction of a pipe buffers before writes
// block, like a device's receive buffer.
const pipeCap = 64 << 10

// half is one direction of a pipe.
type half struct {
	mu     sync.Mutex
	buf    []byte
	closed bool
	signal chan struct{} // closed and replaced on every change
}

func newHalf() *half { return &half{signal: make(chan struct{})} }

func (h *half) changed() {
	close(h.signal)
	h.signal = make(chan struct{})
}

func (h *half) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		h.changed()
	}
}

// pipeEnd is one end of a buffered, full-duplex, in-memory pipe with
// deadlines. It implements hw.Link.
type pipeEnd struct {
	r, w *half
	mu   sync.Mutex
	rdl  time.Time
	wdl  time.Time
	done chan struct{}
	once sync.Once
}

// Pipe returns the two ends of a buffered in-memory link.
func Pipe() (*pipeEnd, *pipeEnd) {
	a, b := newHalf(), newHalf()
	return &pipeEnd{r: a, w: b, done: make(chan struct{})}, &pipeEnd{r: b, w: a, done: make(chan struct{})}
}

func (p *pipeEnd) SetReadDeadline(t time.Time) error {
	p.mu.Lock()
	p.rdl = t
	p.mu.Unlock()
	return nil
}

func (p *pipeEnd) SetWriteDeadline(t time.Time) error {
	p.mu.Lock()
	p.wdl = t
	p.mu.Unlock()
	return nil
}

func (p *pipeEnd) SetDeadline(t time.Time) error {
	p.SetReadDeadline(t)
	return p.SetWriteDeadline(t)
}

// wait blocks until ch closes, the deadline passes or p closes.
func (p *pipeEnd) wait(ch <-chan struct{}, dl time.Time) error {
	var timeout <-chan time.Time
	if !dl.IsZero() {
		d := time.Until(dl)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ch:
		return nil
	case <-timeout:
		return os.ErrDeadlineExceeded
	case <-p.done:
		return io.ErrClosedPipe
	}
}

func (p *pipeEnd) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		select {
		case <-p.done:
			return 0, io.ErrClosedPipe
		default:
		}
		h := p.r
		h.mu.Lock()
		if len(h.buf) > 0 {
			n := copy(b, h.buf)
			h.buf = h.buf[n:]
			h.changed()
			h.mu.Unlock()
			return n, nil
		}
		if h.closed {
			h.mu.Unlock()
			return 0, io.EOF
		}
		ch := h.signal
		h.mu.Unlock()
		p.mu.Lock()
		dl := p.rdl
		p.mu.Unlock()
		if err := p.wait(ch, dl); err != nil {
			return 0, err
		}
	}
}

func (p *pipeEnd) Write(b []byte) (int, error) {
	n := 0
	for {
		select {
		case <-p.done:
			return n, io.ErrClosedPipe
		default:
		}
		h := p.w
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return n, io.ErrClosedPipe
		}
		if room := pipeCap - len(h.buf); room > 0 {
			k := min(room, len(b)-n)
			h.buf = append(h.buf, b[n:n+k]...)
			n += k
			h.changed()
		}
		if n == len(b) {
			h.mu.Unlock()
			return n, nil
		}
		ch := h.signal
		h.mu.Unlock()
		p.mu.Lock()
		dl := p.wdl
		p.mu.Unlock()
		if err := p.wait(ch, dl); err != nil {
			return n, err
		}
	}
}

// Close closes both directions: the other end reads EOF once it has
// read what was sent, and its writes fail.
func (p *pipeEnd) Close() error {
	p.once.Do(func() {
		close(p.done)
		p.r.close()
		p.w.close()
	})
	return nil
}
