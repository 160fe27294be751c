package crdt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestOutboxRecordsReplicate writes a group of outbox records at one till
// and reads them at another: one batch, one DAG node.
func TestOutboxRecordsReplicate(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{})
	a, b := rs[0], rs[1]
	_, h0 := a.s.Heads()
	var group []OutboxEntry
	for i := range 100 {
		group = append(group, OutboxEntry{Connector: "fiscal", Kind: "item", ID: fmt.Sprintf("e%03d", i), Value: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	group = append(group, OutboxEntry{Connector: "fiscal", Kind: "cursor", ID: "v1", Value: []byte(`{}`)})
	if err := a.s.PutOutbox(t.Context(), group); err != nil {
		t.Fatal(err)
	}
	if _, h1 := a.s.Heads(); h1 != h0+1 {
		t.Fatalf("height %d -> %d: want one DAG node for the group", h0, h1)
	}
	testkit.WaitFor(t, "records at the other till", 10*time.Second, func() bool {
		m, err := b.s.OutboxList(t.Context(), "fiscal", "item")
		return err == nil && len(m) == 100
	})
	v, err := b.s.OutboxGet(t.Context(), "fiscal", "item", "e042")
	if err != nil || !bytes.Equal(v, []byte(`{"n":42}`)) {
		t.Fatalf("e042 = %q, %v", v, err)
	}
	if m, _ := b.s.OutboxList(t.Context(), "fiscal", "it"); len(m) != 0 {
		t.Fatalf("a prefix of a kind listed %d records", len(m))
	}
	if _, err := b.s.OutboxGet(t.Context(), "fiscal", "item", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing record: %v", err)
	}
}

func TestOutboxRefusesBadEntriesAndWritesNothing(t *testing.T) {
	r := newReplica(t, "till-a", replicaOpts{})
	_, h0 := r.s.Heads()
	good := OutboxEntry{Connector: "fiscal", Kind: "item", ID: "e1", Value: []byte("x")}
	many := make([]OutboxEntry, 257)
	for i := range many {
		many[i] = good
	}
	for _, bad := range [][]OutboxEntry{
		{good, {Connector: "fiscal", Kind: "item", ID: "a/b", Value: []byte("x")}},
		{good, {Connector: "", Kind: "item", ID: "e2", Value: []byte("x")}},
		{good, {Connector: "fiscal", Kind: "item", ID: "e2"}},
		{good, {Connector: "fiscal", Kind: "item", ID: "e2", Value: []byte(strings.Repeat("x", maxOutboxValue+1))}},
		many,
	} {
		if err := r.s.PutOutbox(t.Context(), bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad group accepted: %v", err)
		}
	}
	if _, h := r.s.Heads(); h != h0 {
		t.Fatal("a refused group was written")
	}
	if _, err := r.s.OutboxList(t.Context(), "../x", "item"); err == nil {
		t.Fatal("a bad connector name was listed")
	}
}
