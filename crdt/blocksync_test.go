package crdt

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	cid "github.com/ipfs/go-cid"
	"github.com/ipfs/go-ds-crdt/pb"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/network"
	"google.golang.org/protobuf/proto"
)

// testNode builds a go-ds-crdt-shaped DAG node: a delta at height with
// links to children.
func testNode(tb testing.TB, height uint64, key string, children ...cid.Cid) *merkledag.ProtoNode {
	tb.Helper()
	data, err := proto.Marshal(&pb.Delta{Priority: height, Elements: []*pb.Element{{Key: key, Value: []byte("v")}}})
	if err != nil {
		tb.Fatal(err)
	}
	nd := merkledag.NodeWithData(data)
	for _, c := range children {
		if err := nd.AddRawLink("", &ipld.Link{Cid: c}); err != nil {
			tb.Fatal(err)
		}
	}
	nd.SetCidBuilder(merkledag.V1CidPrefix())
	return nd
}

func testCID(tb testing.TB, s string) cid.Cid {
	return testNode(tb, 1, s).Cid()
}

func testCIDs(tb testing.TB, n int) []cid.Cid {
	out := make([]cid.Cid, n)
	for i := range out {
		out[i] = testCID(tb, fmt.Sprint(i))
	}
	return out
}

// TestFetchRejectsBadPeers serves forged responses from a fake peer and
// checks that nothing unverified is stored.
func TestFetchRejectsBadPeers(t *testing.T) {
	child := testNode(t, 1, "child")
	head := testNode(t, 2, "head", child.Cid())
	stranger := testNode(t, 1, "stranger")
	for _, tc := range []struct {
		name   string
		frames func(w *bufio.Writer)
		stored []cid.Cid // blocks that may be stored (verified before the fault)
	}{
		{"wrong bytes for cid", func(w *bufio.Writer) {
			_ = writeFrame(w, head.Cid().Bytes(), child.RawData())
		}, nil},
		{"unrequested block", func(w *bufio.Writer) {
			_ = writeFrame(w, stranger.Cid().Bytes(), stranger.RawData())
		}, nil},
		{"child before its parent", func(w *bufio.Writer) {
			_ = writeFrame(w, child.Cid().Bytes(), child.RawData())
		}, nil},
		{"not dag-pb", func(w *bufio.Writer) {
			raw := []byte("hello")
			c, _ := head.Cid().Prefix().Sum(raw)
			_ = writeFrame(w, c.Bytes(), raw)
		}, nil},
		{"truncated after a good block", func(w *bufio.Writer) {
			_ = writeFrame(w, head.Cid().Bytes(), head.RawData())
			_ = writeUvarint(w, 40)
		}, []cid.Cid{head.Cid()}},
		{"oversized frame", func(w *bufio.Writer) {
			_ = writeUvarint(w, uint64(len(head.Cid().Bytes())))
			_, _ = w.Write(head.Cid().Bytes())
			_ = writeUvarint(w, maxBlockBytes+1)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := mesh(t, 2, replicaOpts{})
			srv, cli := rs[0], rs[1]
			srv.h.SetStreamHandler(ProtocolID, func(st network.Stream) {
				defer st.Close()
				if _, err := readRequest(bufio.NewReader(st)); err != nil {
					t.Errorf("fake server: %v", err)
				}
				w := bufio.NewWriter(st)
				tc.frames(w)
				_ = w.Flush()
			})
			err := cli.s.sync.fetch(t.Context(), srv.h.ID(), []cid.Cid{head.Cid()})
			if err == nil {
				t.Fatal("fetch accepted a forged response")
			}
			for _, c := range []cid.Cid{head.Cid(), child.Cid(), stranger.Cid()} {
				has, _ := cli.s.sync.bstore.Has(t.Context(), c)
				if has && !contains(tc.stored, c) {
					t.Errorf("stored unverified block %s", c)
				}
			}
		})
	}
}

func contains(list []cid.Cid, c cid.Cid) bool {
	for _, x := range list {
		if x.Equals(c) {
			return true
		}
	}
	return false
}

// TestWalkStopsAtCommonAncestors checks the server's negotiation on a
// hand-made DAG: two branches over a common base.
func TestWalkStopsAtCommonAncestors(t *testing.T) {
	r := newReplica(t, "till-a", replicaOpts{})
	ctx := t.Context()
	put := func(nd *merkledag.ProtoNode) cid.Cid {
		if err := r.s.bserv.AddBlock(ctx, nd); err != nil {
			t.Fatal(err)
		}
		return nd.Cid()
	}
	base1 := put(testNode(t, 1, "b1"))
	base2 := put(testNode(t, 2, "b2", base1))
	ours := put(testNode(t, 3, "ours", base2)) // the requester has this
	t1 := put(testNode(t, 3, "t1", base2))
	t2 := put(testNode(t, 4, "t2", t1))
	merge := put(testNode(t, 5, "merge", t2, ours))
	missing := testCID(t, "absent") // a link to a block the server lacks
	tip := put(testNode(t, 6, "tip", merge, missing))

	for _, tc := range []struct {
		name  string
		have  []cid.Cid
		limit int
		want  []cid.Cid
	}{
		{"from ours", []cid.Cid{ours}, 100, []cid.Cid{tip, merge, t2, t1}},
		{"nothing in common", nil, 100, []cid.Cid{tip, merge, t2, ours, t1, base2, base1}},
		{"unknown have", []cid.Cid{missing}, 100, []cid.Cid{tip, merge, t2, ours, t1, base2, base1}},
		{"limit", []cid.Cid{ours}, 2, []cid.Cid{tip, merge}},
		{"have the tip", []cid.Cid{tip}, 100, nil},
	} {
		var got []cid.Cid
		_, err := r.s.sync.walk(ctx, []cid.Cid{tip}, tc.have, tc.limit, func(c cid.Cid, data []byte) error {
			if _, _, err := verifyBlock(c, data); err != nil {
				t.Errorf("%s: emitted bad block: %v", tc.name, err)
			}
			got = append(got, c)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: sent %d blocks %v, want %v", tc.name, len(got), got, tc.want)
			continue
		}
		for i := range got {
			if !got[i].Equals(tc.want[i]) {
				// Equal heights may come in either order; compare as sets.
				if !contains(tc.want, got[i]) {
					t.Errorf("%s: sent %s, not wanted", tc.name, got[i])
				}
			}
		}
	}
}

func FuzzReadBlockFrame(f *testing.F) {
	nd := testNode(f, 1, "x")
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	_ = writeFrame(w, nd.Cid().Bytes(), nd.RawData())
	_ = writeUvarint(w, 0)
	_ = w.Flush()
	f.Add(buf.Bytes())
	f.Add([]byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for range 4 {
			c, data, done, err := readBlockFrame(r)
			if err != nil || done {
				return
			}
			if !c.Defined() || len(data) == 0 || len(data) > maxBlockBytes {
				t.Fatalf("bad frame accepted: %v %d", c, len(data))
			}
			// Verification must never panic, whatever the bytes.
			_, _, _ = verifyBlock(c, data)
		}
	})
}

// TestHandlerRejectsGarbageRequest: a malformed request resets the stream
// and the server keeps serving.
func TestHandlerRejectsGarbageRequest(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{})
	a, b := rs[0], rs[1]
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	st, err := b.h.NewStream(ctx, a.h.ID(), ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(st)
	_ = writeFrame(w, []byte{0xa0}) // a CBOR map that wants nothing
	_ = w.Flush()
	_ = st.CloseWrite()
	var one [1]byte
	if _, err := st.Read(one[:]); err == nil {
		t.Error("server answered a request that wants nothing")
	}
	_ = st.Close()
	// Still serving: a real write replicates.
	if err := a.s.PutSetting(ctx, "x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "setting on b", func() bool {
		v, err := b.s.Setting(ctx, "x")
		return err == nil && string(v) == "1"
	})
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}

// referenceDecode is what decodeDAGNode replaced: merkledag's dag-pb
// decoder and the whole delta.
func referenceDecode(data []byte) ([]cid.Cid, uint64, error) {
	nd, err := merkledag.DecodeProtobuf(data)
	if err != nil {
		return nil, 0, err
	}
	var delta pb.Delta
	if err := proto.Unmarshal(nd.Data(), &delta); err != nil {
		return nil, 0, err
	}
	var links []cid.Cid
	for _, l := range nd.Links() {
		links = append(links, l.Cid)
	}
	return links, delta.GetPriority(), nil
}

func checkDecodeAgrees(t *testing.T, data []byte) {
	wantLinks, wantPrio, wantErr := referenceDecode(data)
	links, prio, err := decodeDAGNode(data)
	// decodeDAGNode may refuse a malformed block merkledag reads (a link
	// name not UTF-8, say: go-ds-crdt writes none); it must never read
	// one merkledag refuses, nor read another link or priority. That it
	// reads every node go-ds-crdt writes is TestDecodeDAGNodeAgrees.
	switch {
	case wantErr != nil && err == nil:
		t.Fatalf("decodeDAGNode read a block merkledag refuses (%v)", wantErr)
	case err == nil && (prio != wantPrio || !slices.Equal(links, wantLinks)):
		t.Fatalf("decodeDAGNode: links %v priority %d, merkledag: %v %d", links, prio, wantLinks, wantPrio)
	}
}

// TestDecodeDAGNodeAgrees: the direct dag-pb reader gives merkledag's
// links and the delta's priority for go-ds-crdt's nodes.
func TestDecodeDAGNodeAgrees(t *testing.T) {
	c1, c2 := testCID(t, "a"), testCID(t, "b")
	for _, nd := range []*merkledag.ProtoNode{
		testNode(t, 1, "leaf"),
		testNode(t, 7, "one", c1),
		testNode(t, 1<<40, "two", c1, c2),
	} {
		checkDecodeAgrees(t, nd.RawData())
	}
	for _, bad := range [][]byte{{0x0a}, {0x12, 0x02, 0x0a, 0x00}, {0x0a, 0x00, 0x12, 0x00}, {0x18, 0x01}} {
		if _, _, err := decodeDAGNode(bad); err == nil {
			t.Errorf("decodeDAGNode(%x) = nil error", bad)
		}
	}
}

func FuzzDecodeDAGNode(f *testing.F) {
	c1, c2 := testCID(f, "a"), testCID(f, "b")
	f.Add(testNode(f, 1, "leaf").RawData())
	f.Add(testNode(f, 3, "two", c1, c2).RawData())
	f.Fuzz(func(t *testing.T, data []byte) { checkDecodeAgrees(t, data) })
}

// BenchmarkDecodeDAGNode: the direct reader against merkledag's decoder,
// on a node of go-ds-crdt's shape (one element, two links).
func BenchmarkDecodeDAGNode(b *testing.B) {
	data := testNode(b, 1000, "stock/SKU-1/till-1/0123456789abcdef", testCID(b, "a"), testCID(b, "b")).RawData()
	b.Run("protowire", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := decodeDAGNode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("merkledag", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := referenceDecode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
