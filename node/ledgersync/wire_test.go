package ledgersync

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	writeMsg(w, frame{Vector: map[ledger.TillID]uint64{{1}: 5}, Now: 7, Events: [][]byte{{1, 2, 3}}})
	writeMsg(w, frame{Done: true})
	f.Add(buf.Bytes())
	buf.Reset()
	writeMsg(w, request{Vector: map[ledger.TillID]uint64{{2}: 9}, Now: 1})
	f.Add(buf.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for range 4 {
			var fr frame
			if err := readMsg(r, maxFrame, &fr); err != nil {
				break
			}
			for _, e := range fr.Events {
				ledger.Decode(e)
			}
		}
		var req request
		readMsg(bufio.NewReader(bytes.NewReader(b)), maxRequest, &req)
	})
}
