package hw

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/hw/scale"
)

// A Scale weighs goods. The node is its consumer.
type Scale interface {
	// Weigh waits for a stable weight above zero, until ctx ends.
	Weigh(ctx context.Context) (scale.Reading, error)
}

// ScaleProtocol is how a scale reports.
type ScaleProtocol string

const (
	// ScaleCAS streams CAS 22-byte frames continuously.
	ScaleCAS ScaleProtocol = "cas"
	// ScaleToledo answers a 'W' with a Toledo 8217 reply.
	ScaleToledo ScaleProtocol = "toledo"
)

// ScaleConfig configures a SerialScale. Name, Open and Protocol are
// required.
type ScaleConfig struct {
	Name     string
	Open     Opener
	Protocol ScaleProtocol
	// Unit is what a Toledo scale weighs in ("kg" or "lb"); CAS frames
	// name their unit. Empty means "kg".
	Unit string
	// Poll is how often Weigh asks a Toledo scale again while the weight
	// moves; zero means 200 ms.
	Poll time.Duration
	// ReplyTimeout bounds a Toledo reply; zero means 1 s.
	ReplyTimeout time.Duration
	Backoff      Backoff
	Now          func() time.Time
	Notify       func()
}

// SerialScale reads a CAS or Toledo scale over a Link and reconnects
// after an unplug. Weigh returns stable weights only.
type SerialScale struct {
	cfg   ScaleConfig
	state *stateCell
	reqs  chan chan toledoReply

	mu      sync.Mutex
	last    scale.Reading
	seq     uint64
	updated chan struct{} // closed and replaced on each reading
}

type toledoReply struct {
	r   scale.Reading
	err error
}

// NewScale returns a scale driver; Run connects it.
func NewScale(cfg ScaleConfig) (*SerialScale, error) {
	if cfg.Name == "" || cfg.Open == nil {
		return nil, fmt.Errorf("scale: name and opener required: %w", ErrConfig)
	}
	if cfg.Protocol != ScaleCAS && cfg.Protocol != ScaleToledo {
		return nil, fmt.Errorf("scale %s: protocol %q, want cas or toledo: %w", cfg.Name, cfg.Protocol, ErrConfig)
	}
	if cfg.Unit == "" {
		cfg.Unit = "kg"
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.ReplyTimeout <= 0 {
		cfg.ReplyTimeout = time.Second
	}
	if cfg.Backoff == (Backoff{}) {
		cfg.Backoff = DefaultBackoff()
	}
	return &SerialScale{cfg: cfg, state: newStateCell(cfg.Name, KindScale, cfg.Now, cfg.Notify),
		reqs: make(chan chan toledoReply), updated: make(chan struct{})}, nil
}

// State returns the scale's state.
func (s *SerialScale) State() DeviceState { return s.state.get() }

// Run keeps the scale connected until ctx ends.
func (s *SerialScale) Run(ctx context.Context) error {
	serve := s.serveCAS
	if s.cfg.Protocol == ScaleToledo {
		serve = s.serveToledo
	}
	supervise(ctx, s.state, s.cfg.Backoff, s.cfg.Open, serve)
	return nil
}

// Last returns the newest reading, stable or not; ok is false before
// the first.
func (s *SerialScale) Last() (r scale.Reading, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.seq > 0
}

func (s *SerialScale) record(r scale.Reading) {
	s.mu.Lock()
	s.last = r
	s.seq++
	close(s.updated)
	s.updated = make(chan struct{})
	s.mu.Unlock()
	s.state.update(func(st *DeviceState) { st.Detail = r.String() })
}

func (s *SerialScale) serveCAS(ctx context.Context, l Link) error {
	var dec scale.CASDecoder
	buf := make([]byte, 128)
	for {
		l.SetReadDeadline(time.Time{})
		n, err := l.Read(buf)
		if n > 0 {
			s.state.addRx(n)
			readings, derr := dec.Feed(buf[:n])
			for _, r := range readings {
				s.record(r)
			}
			if derr != nil {
				s.state.update(func(st *DeviceState) { st.Error = derr.Error() })
			}
		}
		if err != nil {
			return err
		}
	}
}

func (s *SerialScale) serveToledo(ctx context.Context, l Link) error {
	dec := scale.ToledoDecoder{Unit: s.cfg.Unit}
	buf := make([]byte, 64)
	for {
		var reply chan toledoReply
		select {
		case <-ctx.Done():
			return nil
		case reply = <-s.reqs:
		}
		r, err := func() (scale.Reading, error) {
			discard(l)
			l.SetWriteDeadline(time.Now().Add(s.cfg.ReplyTimeout))
			if _, err := l.Write(scale.ToledoRequest); err != nil {
				return scale.Reading{}, err
			}
			deadline := time.Now().Add(s.cfg.ReplyTimeout)
			for {
				l.SetReadDeadline(deadline)
				n, err := l.Read(buf)
				if n > 0 {
					s.state.addRx(n)
					rs, _ := dec.Feed(buf[:n])
					if len(rs) > 0 {
						return rs[len(rs)-1], nil
					}
				}
				if err != nil {
					return scale.Reading{}, err
				}
			}
		}()
		if err == nil {
			s.record(r)
		}
		reply <- toledoReply{r, err}
		if err != nil && !isTimeout(err) {
			return err
		}
	}
}

// Weigh waits for a stable weight above zero. It fails at once if the
// scale is not connected, and with ErrUnstable, saying why, when ctx ends
// first.
func (s *SerialScale) Weigh(ctx context.Context) (scale.Reading, error) {
	if !s.state.get().Connected {
		return scale.Reading{}, fmt.Errorf("scale %s: %w", s.cfg.Name, ErrOffline)
	}
	var why error = scale.ErrNoWeight
	for {
		var r scale.Reading
		var err error
		if s.cfg.Protocol == ScaleToledo {
			r, err = s.askToledo(ctx)
		} else {
			r, err = s.nextCAS(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return scale.Reading{}, fmt.Errorf("scale %s: %v: %w", s.cfg.Name, why, ErrUnstable)
			}
			if !isTimeout(err) {
				return scale.Reading{}, fmt.Errorf("scale %s: %w", s.cfg.Name, err)
			}
			why = err
		} else if why = r.Usable(); why == nil {
			if r.Milli > 0 {
				return r, nil
			}
			why = scale.ErrNoWeight
		}
		if s.cfg.Protocol == ScaleToledo {
			t := time.NewTimer(s.cfg.Poll)
			select {
			case <-ctx.Done():
				t.Stop()
				return scale.Reading{}, fmt.Errorf("scale %s: %v: %w", s.cfg.Name, why, ErrUnstable)
			case <-t.C:
			}
		}
	}
}

// nextCAS waits for the next frame.
func (s *SerialScale) nextCAS(ctx context.Context) (scale.Reading, error) {
	s.mu.Lock()
	ch := s.updated
	s.mu.Unlock()
	select {
	case <-ctx.Done():
		return scale.Reading{}, ctx.Err()
	case <-ch:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, nil
}

func (s *SerialScale) askToledo(ctx context.Context) (scale.Reading, error) {
	reply := make(chan toledoReply, 1)
	select {
	case <-ctx.Done():
		return scale.Reading{}, ctx.Err()
	case s.reqs <- reply:
	}
	select {
	case <-ctx.Done():
		return scale.Reading{}, ctx.Err()
	case r := <-reply:
		return r.r, r.err
	}
}
