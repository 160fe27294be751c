package ledgersync

import (
	"bufio"

	"github.com/libp2p/go-libp2p/core/network"
)

// PullFrames asks for every event on st (an empty vector, as a new till
// would) and returns the events of each frame of the answer that carried
// any: the framing, for tests.
func PullFrames(st network.Stream) ([][][]byte, error) {
	w, r := bufio.NewWriter(st), bufio.NewReader(st)
	if err := writeMsg(w, request{}); err != nil {
		return nil, err
	}
	st.CloseWrite()
	var frames [][][]byte
	for {
		var f frame
		if err := readMsg(r, maxFrame, &f); err != nil {
			return frames, err
		}
		if len(f.Events) > 0 {
			frames = append(frames, f.Events)
		}
		if f.Done {
			return frames, nil
		}
	}
}
