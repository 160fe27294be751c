//go:build testnethooks

package ledger

// KindTestnetFuture exists only in binaries built with -tags
// testnethooks, which testnet's rolling-upgrade scenario runs as the
// "new" release: it is a kind the previous release does not know, so the
// scenario can check that such events reach every till and HQ. A release
// build has no such kind and refuses to write it.
const KindTestnetFuture Kind = "testnet_future"

// TestnetFuture is the body of a KindTestnetFuture event.
type TestnetFuture struct {
	Note string `cbor:"1,keyasint" json:"note"`
	N    uint64 `cbor:"2,keyasint" json:"n"`
}

// Kind returns KindTestnetFuture.
func (*TestnetFuture) Kind() Kind { return KindTestnetFuture }

func (f *TestnetFuture) check() error { return checkText("note", f.Note) }

func testnetBody(k Kind) Body {
	if k == KindTestnetFuture {
		return &TestnetFuture{}
	}
	return nil
}
