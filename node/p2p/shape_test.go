package p2p

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

const echoProtocol = protocol.ID("/tillmesh/test/echo/1")

// TestShaperDelaysAndKeepsBytes: a host with a Shaper adds its delay to
// both directions of the links it dials, changes apply to the open
// connection, and bytes arrive intact and in order under loss.
func TestShaperDelaysAndKeepsBytes(t *testing.T) {
	s := newTestStore(t)
	b := runNode(t, s.config(t, 2))
	b.Host.Host().SetStreamHandler(echoProtocol, func(st network.Stream) {
		defer st.Close()
		_, _ = io.Copy(st, st)
	})
	cfgA := s.config(t, 1)
	cfgA.StaticPeers = []string{b.staticAddr(t)}
	shaper := NewShaper(1)
	cfgA.Shaper = shaper
	a := runNode(t, cfgA)
	a.waitEvent(t, PeerAdmitted, b.ID())

	echo := func(payload []byte) time.Duration {
		t.Helper()
		start := time.Now()
		st, err := a.Host.Host().NewStream(t.Context(), b.ID(), echoProtocol)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		errc := make(chan error, 1)
		go func() {
			_, err := st.Write(payload)
			errc <- errors.Join(err, st.CloseWrite())
		}()
		got, err := io.ReadAll(st)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("echo returned %d bytes, not the %d sent", len(got), len(payload))
		}
		return time.Since(start)
	}

	const delay = 400 * time.Millisecond
	if err := shaper.SetAll(Fault{Delay: delay}); err != nil {
		t.Fatal(err)
	}
	shaped := echo([]byte("sale 1-1"))
	if shaped < 2*delay {
		t.Fatalf("echo over a link with %v each way took %v", delay, shaped)
	}
	// The same fault keyed by b's address, then cleared: open connection,
	// no redial.
	if err := shaper.SetAll(Fault{}); err != nil {
		t.Fatal(err)
	}
	if err := shaper.SetRemote("127.0.0.1", Fault{Delay: delay}); err != nil {
		t.Fatal(err)
	}
	if d := echo([]byte("sale 1-2")); d < 2*delay {
		t.Fatalf("echo with b's link shaped took %v", d)
	}
	if err := shaper.SetRemote("127.0.0.1", Fault{}); err != nil {
		t.Fatal(err)
	}
	if d := echo([]byte("sale 1-3")); d >= shaped {
		t.Errorf("echo after clearing took %v, as long as the shaped %v", d, shaped)
	}

	if err := shaper.SetAll(Fault{Delay: time.Millisecond, Loss: 0.3}); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("payload seed %d", seed)
	payload := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(seed, 0))
	for i := range payload {
		payload[i] = byte(r.Uint32())
	}
	echo(payload)
	if err := shaper.SetAll(Fault{Loss: 0.9}); err == nil {
		t.Error("loss 0.9 accepted")
	}
	if err := shaper.SetRemote("", Fault{Delay: time.Second}); err == nil {
		t.Error("empty address accepted")
	}
}

// TestShapedConnReadDeadline: a read deadline ends a wait for bytes that
// are late, and the bytes are still read afterwards.
func TestShapedConnReadDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	s := NewShaper(1)
	if err := s.SetAll(Fault{Delay: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	c, err := shapedDialer{s: s}.DialContext(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peerConn := <-accepted
	defer peerConn.Close()
	if _, err := peerConn.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read before the bytes are due = %v, want a deadline error", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	// Close unblocks a Read waiting for bytes.
	done := make(chan error, 1)
	go func() { _, err := c.Read(buf); done <- err }()
	_ = c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Read after Close returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
}
