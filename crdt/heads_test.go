package crdt

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
)

// TestHeadsLeaveOutCoveredHead: go-ds-crdt can hold a head that another
// of its heads descends from (heads.go explains the race that makes one).
// Such a head adds nothing to the state, so Heads leaves it out, and two
// tills with the same state report the same heads. The till's next write
// takes it as a child, after which go-ds-crdt holds one head again.
//
// The covered head is made here as recoverWalks restores a head: its key
// written into go-ds-crdt's heads while the Store is closed.
func TestHeadsLeaveOutCoveredHead(t *testing.T) {
	r := newReplica(t, "till-a", replicaOpts{})
	ctx := t.Context()
	if err := r.s.PutSetting(ctx, "name", []byte("Main St")); err != nil {
		t.Fatal(err)
	}
	first, _ := r.s.Heads()
	if err := r.s.PutSetting(ctx, "name", []byte("High St")); err != nil {
		t.Fatal(err)
	}
	second, height := r.s.Heads()
	if len(first) != 1 || len(second) != 1 || first[0].Equals(second[0]) {
		t.Fatalf("heads after two writes: %v then %v, want one each, different", first, second)
	}
	covered, top := first[0], second[0]
	crdtNS := r.s.crdtNS
	if err := r.s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Put(ctx, headKey(crdtNS, covered), binary.AppendUvarint(nil, height-1)); err != nil {
		t.Fatal(err)
	}
	r.start(t, replicaOpts{})

	raw, _ := r.s.rawHeads()
	if len(raw) != 2 {
		t.Fatalf("go-ds-crdt holds heads %v, want the covered one beside %s", raw, top)
	}
	got, h := r.s.Heads()
	if !slices.EqualFunc(got, []cid.Cid{top}, cid.Cid.Equals) || h != height {
		t.Errorf("Heads = %v at height %d, want [%s] at %d (not the covered %s)", got, h, top, height, covered)
	}
	if st := r.s.Stats(); st.Heads != 1 {
		t.Errorf("Stats().Heads = %d, want 1", st.Heads)
	}
	if v, err := r.s.Setting(ctx, "name"); err != nil || string(v) != "High St" {
		t.Errorf("setting = %q, %v; want High St", v, err)
	}

	if err := r.s.PutSetting(ctx, "name", []byte("Low St")); err != nil {
		t.Fatal(err)
	}
	if raw, _ := r.s.rawHeads(); len(raw) != 1 {
		t.Errorf("after a write go-ds-crdt holds heads %v, want one", raw)
	}
}

// TestHeadsKeepConcurrentHeads: two writes made apart are two heads that
// neither covers, and both tills report both once they have merged.
func TestHeadsKeepConcurrentHeads(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{})
	a, b := rs[0], rs[1]
	ctx := t.Context()
	if err := a.s.PutSetting(ctx, "name", []byte("Main St")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "first write replicated", func() bool { return caughtUp(a, b) }, a, b)
	isolate(b)
	if err := a.s.PutSetting(ctx, "till-a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := b.s.PutSetting(ctx, "till-b", []byte("y")); err != nil {
		t.Fatal(err)
	}
	heal(t, b, a)
	eventually(t, 20*time.Second, "both writes on both tills", func() bool {
		ha, _ := a.s.Heads()
		hb, _ := b.s.Heads()
		return len(ha) == 2 && slices.EqualFunc(ha, hb, cid.Cid.Equals)
	}, a, b)
}
