package hw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// A Link is a byte stream to one device, with deadlines: a serial port, a
// TCP connection to port 9100, a USB printer-class file, a
// pseudo-terminal or a simulator's pipe. It is the subset of net.Conn
// the drivers use.
//
// Read never returns 0 bytes without an error: a deadline that passes
// makes Read or Write return an error for which
// errors.Is(err, os.ErrDeadlineExceeded) holds, so a bufio.Reader over a
// Link does not give up on empty reads. After a Write timed out the link
// is unusable (part of the data may have gone out) and must be closed.
// One goroutine reads and one writes at a time; Close may be called from
// any goroutine and unblocks both.
type Link interface {
	io.ReadWriteCloser
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// An Opener opens a link to a device. Drivers call it again after every
// failure, so it must find the device afresh each time: a USB device
// that was unplugged comes back under another name.
type Opener func(ctx context.Context) (Link, error)

// errWriteTimedOut is sticky on a blockingLink after a write timed out.
var errWriteTimedOut = fmt.Errorf("an earlier write timed out: %w", os.ErrDeadlineExceeded)

// blockingLink gives deadlines to a stream whose reads and writes block
// without any: a go.bug.st/serial port, or a device file the runtime
// cannot poll. A reader goroutine reads ahead one chunk at a time; each
// Write runs in its own goroutine and is abandoned, not interrupted, when
// its deadline passes.
type blockingLink struct {
	rwc io.ReadWriteCloser
	// flush discards output the device has not taken (serial ports), so
	// that a write stuck on a device that stopped reading can return.
	flush func() error
	// drain waits until written bytes have left the port (serial), so
	// that a real-time command written next is not queued behind them.
	drain func() error

	mu       sync.Mutex
	rdl, wdl time.Time
	closed   bool
	done     chan struct{}
	inflight chan struct{} // closed when the write in flight returns
	werr     error         // sticky: a write timed out

	startReader sync.Once
	chunks      chan readResult
	rmu         sync.Mutex // one Read at a time
	left        []byte
	rerr        error

	wmu sync.Mutex // one Write at a time
}

type readResult struct {
	b   []byte
	err error
}

func newBlockingLink(rwc io.ReadWriteCloser, flush, drain func() error) *blockingLink {
	return &blockingLink{rwc: rwc, flush: flush, drain: drain, done: make(chan struct{}), chunks: make(chan readResult)}
}

func (l *blockingLink) SetReadDeadline(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rdl = t
	return nil
}

func (l *blockingLink) SetWriteDeadline(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wdl = t
	return nil
}

// maxEmptyReads is how many reads in a row may return nothing before the
// reader reports io.ErrNoProgress instead of spinning.
const maxEmptyReads = 100

func (l *blockingLink) reader() {
	buf := make([]byte, 1024)
	empty := 0
	for {
		n, err := l.rwc.Read(buf)
		if n == 0 && err == nil {
			if empty++; empty < maxEmptyReads {
				continue
			}
			err = io.ErrNoProgress
		}
		empty = 0
		var r readResult
		if n > 0 {
			r.b = append([]byte(nil), buf[:n]...)
		}
		r.err = err
		select {
		case l.chunks <- r:
		case <-l.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (l *blockingLink) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	l.rmu.Lock()
	defer l.rmu.Unlock()
	l.mu.Lock()
	closed, dl := l.closed, l.rdl
	l.mu.Unlock()
	if closed {
		return 0, ErrClosed
	}
	if len(l.left) > 0 {
		n := copy(p, l.left)
		l.left = l.left[n:]
		return n, nil
	}
	if l.rerr != nil {
		return 0, l.rerr
	}
	l.startReader.Do(func() { go l.reader() })
	var timeout <-chan time.Time
	if !dl.IsZero() {
		d := time.Until(dl)
		if d <= 0 {
			return 0, os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case r := <-l.chunks:
		n := copy(p, r.b)
		l.left = r.b[n:]
		if r.err != nil {
			l.rerr = r.err
			if n == 0 {
				return 0, r.err
			}
		}
		return n, nil
	case <-timeout:
		return 0, os.ErrDeadlineExceeded
	case <-l.done:
		return 0, ErrClosed
	}
}

// writeChunk is the most written in one system call, so that a write
// abandoned at its deadline notices Close between calls.
const writeChunk = 256

func (l *blockingLink) Write(p []byte) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	if l.werr != nil {
		l.mu.Unlock()
		return 0, l.werr
	}
	dl := l.wdl
	inflight := make(chan struct{})
	l.inflight = inflight
	l.mu.Unlock()

	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	go func() {
		defer close(inflight)
		n := 0
		var err error
		for n < len(p) && err == nil {
			if l.isClosed() {
				err = ErrClosed
				break
			}
			var k int
			k, err = l.rwc.Write(p[n:min(len(p), n+writeChunk)])
			n += k
		}
		if err == nil && l.drain != nil {
			err = l.drain()
		}
		res <- result{n, err}
	}()
	var timeout <-chan time.Time
	if !dl.IsZero() {
		t := time.NewTimer(max(time.Until(dl), 0))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case r := <-res:
		return r.n, r.err
	case <-timeout:
		l.mu.Lock()
		l.werr = errWriteTimedOut
		l.mu.Unlock()
		if l.flush != nil {
			_ = l.flush() // unblocks a serial write stuck behind a device that stopped reading
		}
		return 0, os.ErrDeadlineExceeded
	case <-l.done:
		return 0, ErrClosed
	}
}

func (l *blockingLink) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// abandonWait is how long Close waits for a write in flight to return
// before closing under it. A write still blocked in the kernel after that
// holds its own reference to the file, so closing is safe; the goroutine
// ends when the device takes the data or goes away.
const abandonWait = 200 * time.Millisecond

func (l *blockingLink) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	inflight := l.inflight
	l.mu.Unlock()
	if inflight != nil {
		select {
		case <-inflight:
		default:
			if l.flush != nil {
				_ = l.flush()
			}
			t := time.NewTimer(abandonWait)
			select {
			case <-inflight:
			case <-t.C:
			}
			t.Stop()
		}
	}
	return l.rwc.Close()
}

// TCPOpener dials addr (host:port; port 9100 if none) with a timeout.
// Printers on port 9100 serve one client at a time: open a link per job
// and close it after.
func TCPOpener(addr string, timeout time.Duration) Opener {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "9100")
	}
	return func(ctx context.Context) (Link, error) {
		d := net.Dialer{Timeout: timeout, KeepAlive: 15 * time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// FileOpener opens a device file such as /dev/usb/lp0, found afresh by
// path() on every call. If the runtime can poll the file, its own
// deadlines are used; otherwise reads and writes that block past their
// deadline are abandoned (a USB printer that is offline blocks writes).
func FileOpener(path func() (string, error)) Opener {
	return func(ctx context.Context) (Link, error) {
		p, err := path()
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		if err := f.SetDeadline(time.Time{}); err == nil {
			return f, nil
		} else if !errors.Is(err, os.ErrNoDeadline) {
			f.Close()
			return nil, err
		}
		return newBlockingLink(f, nil, nil), nil
	}
}
