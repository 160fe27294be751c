package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/tillmesh/tillmesh/hw"
)

// Port connects a device to drivers in the same process. Open is an
// hw.Opener; each call makes a new link served by the device. A Port
// starts plugged in.
type Port struct {
	dev Device

	mu        sync.Mutex
	unplugged bool
	ends      map[*pipeEnd]struct{}
	wg        sync.WaitGroup
}

// NewPort returns a plugged-in port to dev.
func NewPort(dev Device) *Port { return &Port{dev: dev, ends: map[*pipeEnd]struct{}{}} }

// Open connects a driver to the device. It fails with hw.ErrNotFound
// while the port is unplugged.
func (p *Port) Open(ctx context.Context) (hw.Link, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unplugged {
		return nil, fmt.Errorf("sim port: %w", hw.ErrNotFound)
	}
	host, dev := Pipe()
	p.ends[dev] = struct{}{}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.dev.Serve(dev)
		dev.Close()
		p.mu.Lock()
		delete(p.ends, dev)
		p.mu.Unlock()
	}()
	return host, nil
}

// Unplug cuts every connection and refuses new ones until Plug.
func (p *Port) Unplug() {
	p.mu.Lock()
	p.unplugged = true
	for e := range p.ends {
		e.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Plug lets drivers connect again.
func (p *Port) Plug() {
	p.mu.Lock()
	p.unplugged = false
	p.mu.Unlock()
}

// Close cuts every connection and waits for the device to stop serving.
func (p *Port) Close() { p.Unplug() }

// PTY connects a device to a pseudo-terminal, reached through a symlink
// that survives unplugging, as /dev/serial/by-id links do. Drivers open
// Path with serial.Open.
type PTY struct {
	dev  Device
	path string

	mu     sync.Mutex
	master *os.File
	slave  *os.File
	done   chan struct{}
}

// NewPTY plugs dev into a new pseudo-terminal and links path to it.
func NewPTY(dev Device, path string) (*PTY, error) {
	p := &PTY{dev: dev, path: path}
	if err := p.Plug(); err != nil {
		return nil, err
	}
	return p, nil
}

// Path is the symlink drivers open.
func (p *PTY) Path() string { return p.path }

// Plug creates a new pseudo-terminal (a new /dev/pts number, as a
// replugged USB adapter gets a new ttyUSB number) and links Path to it.
func (p *PTY) Plug() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.master != nil {
		return nil
	}
	m, s, err := pty.Open()
	if err != nil {
		return fmt.Errorf("open pty: %w", err)
	}
	master, err := pollable(m)
	if err != nil {
		m.Close()
		s.Close()
		return err
	}
	if err := makeRaw(s); err != nil {
		master.Close()
		s.Close()
		return err
	}
	os.Remove(p.path)
	if err := os.Symlink(s.Name(), p.path); err != nil {
		master.Close()
		s.Close()
		return err
	}
	p.master, p.slave, p.done = master, s, make(chan struct{})
	done := p.done
	go func() {
		defer close(done)
		p.dev.Serve(master)
	}()
	return nil
}

// Unplug removes the link and closes the pseudo-terminal: the driver's
// reads fail and its writes get an I/O error, as with a pulled cable.
func (p *PTY) Unplug() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.master == nil {
		return nil
	}
	os.Remove(p.path)
	err := errors.Join(p.master.Close(), p.slave.Close())
	<-p.done
	p.master, p.slave = nil, nil
	return err
}

// Close unplugs the device for good.
func (p *PTY) Close() error { return p.Unplug() }

// pollable returns a copy of the pty master that the runtime polls, so
// that Close interrupts a Read: creack/pty leaves the master in blocking
// mode.
func pollable(m *os.File) (*os.File, error) {
	rc, err := m.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var derr error
	if err := rc.Control(func(old uintptr) {
		fd, derr = unix.Dup(int(old))
		if derr == nil {
			derr = unix.SetNonblock(fd, true)
			unix.CloseOnExec(fd)
		}
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	name := m.Name()
	m.Close()
	return os.NewFile(uintptr(fd), name), nil
}

// makeRaw puts the terminal in raw mode, so that what the device sends
// reaches the driver unchanged even before the driver opens the port.
func makeRaw(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var terr error
	if err := rc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			terr = err
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB
		t.Cflag |= unix.CS8
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		terr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	}); err != nil {
		return err
	}
	return terr
}

// TCPServer is a device on a loopback TCP port, serving one client at a
// time as printers on port 9100 do.
type TCPServer struct {
	ln   net.Listener
	dev  Device
	deaf bool

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// ListenTCP serves dev on a free loopback port.
func ListenTCP(dev Device) (*TCPServer, error) { return listen(dev, false) }

// ListenDeaf accepts connections on a free loopback port and never reads
// them, as a wedged network printer does.
func ListenDeaf() (*TCPServer, error) { return listen(nil, true) }

func listen(dev Device, deaf bool) (*TCPServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &TCPServer{ln: ln, dev: dev, deaf: deaf, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is host:port.
func (s *TCPServer) Addr() string { return s.ln.Addr().String() }

func (s *TCPServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		if s.deaf {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(4096) // fill up soon, so writers see the stall
			}
			continue
		}
		s.dev.Serve(c) // one client at a time
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}
}

// Accepted returns how many connections are open.
func (s *TCPServer) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Close stops listening and closes every connection.
func (s *TCPServer) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}
