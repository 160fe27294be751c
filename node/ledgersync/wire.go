package ledgersync

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/tillmesh/tillmesh/ledger"
)

// Protocol is the libp2p protocol of ledger pulls: the client sends a
// request with its version vector; the server answers with frames of the
// events the client lacks, oldest first per till, and a final frame.
const Protocol = "/tillmesh/ledger/1"

// Protocols are the versions of the pull protocol this build speaks,
// newest first. A Syncer registers each and opens streams listing them
// in this order, so two tills pull with the newest version both know;
// a later version is added in front and the older kept while tills of
// the release before it may be in the store.
func Protocols() []protocol.ID { return []protocol.ID{Protocol} }

// Limits on what a peer may send.
const (
	maxRequest = 64 << 10
	maxFrame   = 8 << 20
	maxTills   = 1024
)

// request is what a client sends.
type request struct {
	Vector map[ledger.TillID]uint64 `cbor:"1,keyasint"`
	Now    int64                    `cbor:"2,keyasint"` // client's wall clock, Unix ms, for skew checks
}

// frame is one batch of the answer. The first frame carries the server's
// vector and clock; the last has Done set.
type frame struct {
	Vector map[ledger.TillID]uint64 `cbor:"1,keyasint,omitempty"`
	Now    int64                    `cbor:"2,keyasint,omitempty"`
	Events [][]byte                 `cbor:"3,keyasint,omitempty"`
	Done   bool                     `cbor:"4,keyasint,omitempty"`
}

var (
	errTooLarge = errors.New("ledgersync: message too large")
	decMode     cbor.DecMode
)

func init() {
	var err error
	decMode, err = cbor.DecOptions{
		MaxArrayElements: 100_000, MaxMapPairs: maxTills, MaxNestedLevels: 8,
		IndefLength: cbor.IndefLengthForbidden, DupMapKey: cbor.DupMapKeyEnforcedAPF,
	}.DecMode()
	if err != nil {
		panic(err) // constant options
	}
}

func writeMsg(w *bufio.Writer, v any) error {
	b, err := cbor.Marshal(v)
	if err != nil {
		return err
	}
	var n [binary.MaxVarintLen64]byte
	if _, err := w.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))]); err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	return w.Flush()
}

func readMsg(r *bufio.Reader, limit int, v any) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return err
	}
	if n > uint64(limit) {
		return fmt.Errorf("%w: %d bytes, limit %d", errTooLarge, n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	if err := decMode.Unmarshal(b, v); err != nil {
		return fmt.Errorf("ledgersync: decode: %w", err)
	}
	return nil
}
