package hw

import (
	"bufio"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// rwPipe is a blocking stream: writes wait for a reader, reads for a
// writer, like a device that stopped reading.
type rwPipe struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func (p rwPipe) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p rwPipe) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p rwPipe) Close() error                { p.r.Close(); return p.w.Close() }

func TestBlockingLinkReadDeadline(t *testing.T) {
	inR, inW := io.Pipe()   // device -> host
	outR, outW := io.Pipe() // host -> device
	l := newBlockingLink(rwPipe{inR, outW}, nil, nil)
	defer l.Close()
	defer outR.Close()

	l.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	buf := make([]byte, 8)
	n, err := l.Read(buf)
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with nothing to read = %d, %v; want a deadline error", n, err)
	}
	// Data after a timeout is not lost, and bufio reads lines across
	// reads that timed out.
	go inW.Write([]byte("4006381333931\r\n"))
	l.SetReadDeadline(time.Time{})
	br := bufio.NewReader(l)
	line, err := br.ReadString('\n')
	if err != nil || line != "4006381333931\r\n" {
		t.Fatalf("line %q, %v", line, err)
	}
	l.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
	for range 200 { // far past bufio's 100 empty reads
		if _, err := br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadByte after deadline: %v", err)
		}
	}
}

func TestBlockingLinkWriteDeadline(t *testing.T) {
	inR, _ := io.Pipe()
	outR, outW := io.Pipe() // nobody reads outR: the device stopped reading
	flushed := make(chan struct{}, 1)
	l := newBlockingLink(rwPipe{inR, outW}, func() error {
		select {
		case flushed <- struct{}{}:
		default:
		}
		return nil
	}, nil)
	l.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	start := time.Now()
	_, err := l.Write([]byte("receipt"))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a stalled device: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("write took %v", d)
	}
	select {
	case <-flushed:
	default:
		t.Errorf("pending output was not flushed")
	}
	if _, err := l.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write after a timed-out write: %v, want the sticky error", err)
	}
	// Close returns even though the abandoned write is stuck; closing the
	// pipe ends it.
	done := make(chan struct{})
	go func() { l.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked behind a stuck write")
	}
	outR.Close()
}

func TestBlockingLinkCloseUnblocksRead(t *testing.T) {
	inR, _ := io.Pipe()
	_, outW := io.Pipe()
	l := newBlockingLink(rwPipe{inR, outW}, nil, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := l.Read(make([]byte, 1))
		errc <- err
	}()
	l.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("read after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
}

func TestChunks(t *testing.T) {
	segs := [][]byte{make([]byte, 100), make([]byte, 300), make([]byte, 200), make([]byte, 900), make([]byte, 10)}
	got := chunks(segs, 512)
	var sizes []int
	for _, c := range got {
		sizes = append(sizes, len(c))
	}
	want := []int{400, 200, 900, 10}
	if len(sizes) != len(want) {
		t.Fatalf("chunk sizes %v, want %v", sizes, want)
	}
	for i := range want {
		if sizes[i] != want[i] {
			t.Fatalf("chunk sizes %v, want %v", sizes, want)
		}
	}
}
