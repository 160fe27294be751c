package cborwire

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Codec frames and decodes the messages of one protocol.
type Codec struct {
	// Name names the protocol in errors, e.g. "grant".
	Name string
	// Max is the largest body of a message in bytes, on both sides.
	Max int
	// Dec decodes a body; it holds the protocol's limits on arrays, maps
	// and nesting.
	Dec cbor.DecMode
}

// Limits bound what decoding a body builds.
type Limits struct {
	Arrays  int // elements of one array, at least 16
	Pairs   int // pairs of one map, at least 16
	Nesting int // levels of arrays and maps, at least 4
}

// MustCodec returns the Codec of a protocol whose bodies are at most max
// bytes. The decoder forbids indefinite lengths and duplicate map keys.
// It panics if l is out of range: l is the protocol's constant, so that
// is a bug of the build, never of input.
func MustCodec(name string, max int, l Limits) Codec {
	dec, err := cbor.DecOptions{
		MaxArrayElements: l.Arrays, MaxMapPairs: l.Pairs, MaxNestedLevels: l.Nesting,
		IndefLength: cbor.IndefLengthForbidden, DupMapKey: cbor.DupMapKeyEnforcedAPF,
	}.DecMode()
	if err != nil {
		panic(fmt.Sprintf("%s codec: %v", name, err))
	}
	return Codec{Name: name, Max: max, Dec: dec}
}

// Checker is a message that reports what is wrong with it.
type Checker[T any] interface {
	*T
	Check() error
}

// Decode reads one message with c and checks it.
func Decode[T any, P Checker[T]](c Codec, r *bufio.Reader) (T, error) {
	var v T
	if err := c.Read(r, &v); err != nil {
		var zero T
		return zero, err
	}
	if err := P(&v).Check(); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// lenMax is the most bytes a frame's length takes.
const lenMax = binary.MaxVarintLen64

// Write writes v to w as one frame.
func (c Codec) Write(w io.Writer, v any) error {
	b, err := cbor.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", c.Name, err)
	}
	if len(b) > c.Max {
		return fmt.Errorf("%s: message of %d bytes, limit %d", c.Name, len(b), c.Max)
	}
	bw := bufio.NewWriter(w)
	var n [lenMax]byte
	bw.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
	bw.Write(b)
	return bw.Flush()
}

// Read reads one frame from r and decodes its body into v.
func (c Codec) Read(r *bufio.Reader, v any) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return err
	}
	if n > uint64(c.Max) {
		return fmt.Errorf("%s: message of %d bytes, limit %d", c.Name, n, c.Max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	if err := c.Dec.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: decode: %w", c.Name, err)
	}
	return nil
}

// reader bounds what is read from a stream to one frame.
func (c Codec) reader(r io.Reader) *bufio.Reader {
	return bufio.NewReader(io.LimitReader(r, int64(c.Max)+lenMax))
}

// Server is how Serve answers one protocol. From is what Admit makes of
// a peer (the till it is).
type Server[From, Req, Res any] struct {
	Codec Codec
	// Admit returns what the peer is, or false to reset the stream
	// before anything is read.
	Admit func(peer.ID) (From, bool)
	// Decode reads and checks one request.
	Decode func(*bufio.Reader) (Req, error)
	// Handle answers a request; its ctx ends after Timeout.
	Handle func(ctx context.Context, from From, req Req) Res
	// Refuse makes the answer to a request that did not decode.
	Refuse func(error) Res
	// Timeout bounds the whole stream.
	Timeout time.Duration
}

// Serve answers one stream and closes it.
func (s Server[From, Req, Res]) Serve(st network.Stream) {
	defer st.Close()
	from, ok := s.Admit(st.Conn().RemotePeer())
	if !ok {
		st.Reset()
		return
	}
	st.SetDeadline(time.Now().Add(s.Timeout))
	req, err := s.Decode(s.Codec.reader(st))
	var res Res
	if err != nil {
		res = s.Refuse(err)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
		res = s.Handle(ctx, from, req)
		cancel()
	}
	if err := s.Codec.Write(st, res); err != nil {
		st.Reset()
	}
}

// Call opens a stream to p on the first of protos p speaks, sends req,
// and reads the answer with decode. ctx's deadline bounds the stream.
func Call[Res any](ctx context.Context, h host.Host, p peer.ID, c Codec, protos []protocol.ID, req any, decode func(*bufio.Reader) (Res, error)) (Res, error) {
	var zero Res
	st, err := h.NewStream(network.WithAllowLimitedConn(ctx, c.Name), p, protos...)
	if err != nil {
		return zero, fmt.Errorf("open %s stream: %w", c.Name, err)
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	if err := c.Write(st, req); err != nil {
		st.Reset()
		return zero, fmt.Errorf("send %s request: %w", c.Name, err)
	}
	st.CloseWrite()
	res, err := decode(c.reader(st))
	if err != nil {
		st.Reset()
		return zero, fmt.Errorf("read %s answer: %w", c.Name, err)
	}
	return res, nil
}
