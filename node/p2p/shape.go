package p2p

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// Fault is what a Shaper adds to a link: Delay to every chunk of bytes in
// each direction, and with probability Loss a further RetransmitDelay, as
// TCP pays a retransmission timeout for a lost segment (bytes over TCP
// are late, never missing).
type Fault struct {
	Delay time.Duration
	Loss  float64 // 0..1
}

// RetransmitDelay is what a lost segment costs: Linux's minimum TCP
// retransmission timeout.
const RetransmitDelay = 200 * time.Millisecond

func (f Fault) zero() bool { return f.Delay <= 0 && f.Loss <= 0 }

// combine adds two faults as two shaped interfaces on one path would.
func (f Fault) combine(g Fault) Fault {
	return Fault{Delay: f.Delay + g.Delay, Loss: 1 - (1-f.Loss)*(1-g.Loss)}
}

// Shaper injects latency and loss into a host's TCP connections, for the
// testnet (this machine's kernel has no netem). A host with a Shaper dials
// every connection through it; the faults of a connection are read for
// every chunk, so changes apply to open connections at once. A fault on
// this till's own link is set with SetAll; a fault on another till's link
// with SetRemote, keyed by the address this host dials it at. Connections
// this host accepts are not shaped here: the dialing side shapes both
// directions. Production tills have no Shaper. This file is in every
// build, not behind the testnethooks tag, because `tillmesh testnet run
// --mode process|netns` runs the release binary as its tills and shapes
// their links through --testnet-control (docs/ARCHITECTURE.md, "Testnet
// hooks").
type Shaper struct {
	mu  sync.RWMutex
	all Fault
	by  map[string]Fault // "ip:port" or "ip"
	rnd *rand.Rand
}

// NewShaper returns a Shaper with no faults; seed drives the loss draws.
func NewShaper(seed uint64) *Shaper {
	return &Shaper{by: map[string]Fault{}, rnd: rand.New(rand.NewPCG(seed, seed^0x5eed))}
}

// SetAll sets the fault of this till's own link: every connection it
// dials. The zero Fault clears it.
func (s *Shaper) SetAll(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = f
	return nil
}

// SetRemote sets the fault of the link of the till this host dials at
// addr, "ip:port" or "ip" (every port). The zero Fault clears it.
func (s *Shaper) SetRemote(addr string, f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	if addr == "" {
		return errors.New("shape: empty address")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.zero() {
		delete(s.by, addr)
	} else {
		s.by[addr] = f
	}
	return nil
}

func (f Fault) validate() error {
	if f.Delay < 0 || f.Delay > time.Minute || f.Loss < 0 || f.Loss > 0.5 {
		return fmt.Errorf("shape: delay %v must be 0..1m and loss %.2f 0..0.5", f.Delay, f.Loss)
	}
	return nil
}

// delay returns how late the next chunk to or from remote arrives.
func (s *Shaper) delay(remote string) time.Duration {
	s.mu.Lock() // rnd is not safe for concurrent use
	defer s.mu.Unlock()
	f := s.all
	if g, ok := s.by[remote]; ok {
		f = f.combine(g)
	} else if host, _, err := net.SplitHostPort(remote); err == nil {
		if g, ok := s.by[host]; ok {
			f = f.combine(g)
		}
	}
	d := f.Delay
	if f.Loss > 0 && s.rnd.Float64() < f.Loss {
		d += RetransmitDelay
	}
	return d
}

// transportOption makes the TCP transport dial through s. (go-libp2p then
// logs "can't set TCP keepalives" once per connection: the conn it wraps
// around ours hides SetKeepAlive. Testnet only, so left alone.)
func (s *Shaper) transportOption() tcp.Option {
	return tcp.WithDialerForAddr(func(ma.Multiaddr) (tcp.ContextDialer, error) {
		return shapedDialer{s: s}, nil
	})
}

type shapedDialer struct{ s *Shaper }

func (d shapedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return newShapedConn(c, d.s), nil
}

// chunk is bytes in flight, due at a time, or the error that ended the
// read side.
type chunk struct {
	data []byte
	due  time.Time
	err  error
}

// shapedConn delays what is written to and read from a TCP connection,
// keeping the order of bytes. Writes return at once (a queue of up to
// queueLen chunks gives back-pressure); a goroutine writes each chunk
// when it is due. Reads return a chunk once it is due.
type shapedConn struct {
	net.Conn
	s      *Shaper
	remote string

	wq        chan chunk
	rq        chan chunk
	closed    chan struct{}
	closeOnce sync.Once
	werr      error // set by the writer goroutine before it closes wdone
	wdone     chan struct{}

	rmu     sync.Mutex // one Read at a time
	pending *chunk     // a chunk taken from rq, not yet due or not yet read
	rerr    error

	dmu      sync.Mutex
	deadline time.Time
	dchange  chan struct{} // closed and replaced when the read deadline changes

	wmu   sync.Mutex // orders concurrent Writes
	lastW time.Time  // last due times, so chunks stay in order
	lastR time.Time  // reader goroutine only
}

const queueLen = 256

func newShapedConn(c net.Conn, s *Shaper) *shapedConn {
	sc := &shapedConn{
		Conn: c, s: s, remote: c.RemoteAddr().String(),
		wq: make(chan chunk, queueLen), rq: make(chan chunk, queueLen),
		closed: make(chan struct{}), wdone: make(chan struct{}), dchange: make(chan struct{}),
	}
	go sc.writer()
	go sc.reader()
	return sc
}

func (c *shapedConn) due(last *time.Time) time.Time {
	t := time.Now().Add(c.s.delay(c.remote))
	if t.Before(*last) {
		t = *last
	}
	*last = t
	return t
}

// Write queues b; it fails once the connection failed or closed.
func (c *shapedConn) Write(b []byte) (int, error) {
	select {
	case <-c.wdone:
		return 0, c.werr
	default:
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ch := chunk{data: append([]byte(nil), b...), due: c.due(&c.lastW)}
	select {
	case c.wq <- ch:
		return len(b), nil
	case <-c.wdone:
		return 0, c.werr
	}
}

func (c *shapedConn) writer() {
	defer close(c.wdone)
	for {
		select {
		case <-c.closed:
			c.werr = net.ErrClosed
			return
		case ch := <-c.wq:
			if !sleepUntil(ch.due, c.closed) {
				c.werr = net.ErrClosed
				return
			}
			if _, err := c.Conn.Write(ch.data); err != nil {
				c.werr = err
				_ = c.Close()
				return
			}
		}
	}
}

func (c *shapedConn) reader() {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Conn.Read(buf)
		if n > 0 {
			select {
			case c.rq <- chunk{data: append([]byte(nil), buf[:n]...), due: c.due(&c.lastR)}:
			case <-c.closed:
				return
			}
		}
		if err != nil {
			select {
			case c.rq <- chunk{err: err, due: c.due(&c.lastR)}:
			case <-c.closed:
			}
			return
		}
	}
}

// Read returns bytes once they are due, honouring the read deadline.
func (c *shapedConn) Read(b []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for c.rerr == nil {
		c.dmu.Lock()
		dl, change := c.deadline, c.dchange
		c.dmu.Unlock()
		// Take the next chunk, or wait for the one in hand to be due.
		var next <-chan chunk
		var due, deadline <-chan time.Time
		var timers []*time.Timer
		if c.pending == nil {
			next = c.rq
		} else {
			t := time.NewTimer(time.Until(c.pending.due))
			timers, due = append(timers, t), t.C
		}
		if !dl.IsZero() {
			t := time.NewTimer(time.Until(dl))
			timers, deadline = append(timers, t), t.C
		}
		var err error
		ready := false
		select {
		case ch := <-next:
			c.pending = &ch
		case <-due:
			ready = true
		case <-deadline:
			err = os.ErrDeadlineExceeded
		case <-change: // the deadline moved: wait again
		case <-c.closed:
			err = net.ErrClosed
		}
		for _, t := range timers {
			t.Stop()
		}
		if err != nil {
			return 0, err
		}
		if !ready {
			continue
		}
		if c.pending.err != nil {
			c.rerr, c.pending = c.pending.err, nil
			break
		}
		n := copy(b, c.pending.data)
		c.pending.data = c.pending.data[n:]
		if len(c.pending.data) == 0 {
			c.pending = nil
		}
		return n, nil
	}
	return 0, c.rerr
}

func (c *shapedConn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.deadline = t
	close(c.dchange)
	c.dchange = make(chan struct{})
	return nil
}

func (c *shapedConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *shapedConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		err = c.Conn.Close()
	})
	return err
}

// The TCP transport sets keep-alive and linger when the conn allows.
func (c *shapedConn) SetKeepAlive(on bool) error {
	if t, ok := c.Conn.(*net.TCPConn); ok {
		return t.SetKeepAlive(on)
	}
	return nil
}

func (c *shapedConn) SetKeepAlivePeriod(d time.Duration) error {
	if t, ok := c.Conn.(*net.TCPConn); ok {
		return t.SetKeepAlivePeriod(d)
	}
	return nil
}

func (c *shapedConn) SetLinger(sec int) error {
	if t, ok := c.Conn.(*net.TCPConn); ok {
		return t.SetLinger(sec)
	}
	return nil
}

// sleepUntil waits until t or until stop closes; false means stopped.
func sleepUntil(t time.Time, stop <-chan struct{}) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-stop:
		return false
	}
}
