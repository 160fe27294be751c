package ledger_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

var storeB = ledger.StoreID{9, 8, 7}

func lines(kv ...any) []ledger.StockLine {
	var out []ledger.StockLine
	for i := 0; i < len(kv); i += 2 {
		out = append(out, ledger.StockLine{SKU: kv[i].(string), Qty: int64(kv[i+1].(int))})
	}
	return out
}

func TestTransferBodyRules(t *testing.T) {
	tests := []struct {
		name string
		body ledger.Body
		want string // "" for valid
	}{
		{"out ok", &ledger.TransferOut{Number: "n-1-1", To: storeB, Lines: lines("A", 2), Staff: "1"}, ""},
		{"out no number", &ledger.TransferOut{To: storeB, Lines: lines("A", 2), Staff: "1"}, "transfer number"},
		{"out bad number", &ledger.TransferOut{Number: "a b", To: storeB, Lines: lines("A", 2), Staff: "1"}, "contains"},
		{"out no destination", &ledger.TransferOut{Number: "n", Lines: lines("A", 2), Staff: "1"}, "no destination"},
		{"out zero qty", &ledger.TransferOut{Number: "n", To: storeB, Lines: lines("A", 0), Staff: "1"}, "quantity 0"},
		{"out sku twice", &ledger.TransferOut{Number: "n", To: storeB, Lines: lines("A", 1, "A", 2), Staff: "1"}, "twice"},
		{"out no lines", &ledger.TransferOut{Number: "n", To: storeB, Staff: "1"}, "0 sent lines"},
		{"out no staff", &ledger.TransferOut{Number: "n", To: storeB, Lines: lines("A", 1)}, "no staff"},
		{"in ok with difference", &ledger.TransferIn{Number: "n", From: store, Sent: lines("A", 2, "B", 1), Lines: lines("A", 1, "B", 0), Staff: "1"}, ""},
		{"in blind", &ledger.TransferIn{Number: "n", From: store, Lines: lines("A", 5), Staff: "1"}, ""},
		{"in more than sent", &ledger.TransferIn{Number: "n", From: store, Sent: lines("A", 2), Lines: lines("A", 3), Staff: "1"}, "3 of A received, 2 was sent"},
		{"in sku not sent", &ledger.TransferIn{Number: "n", From: store, Sent: lines("A", 2), Lines: lines("B", 1), Staff: "1"}, "none was sent"},
		{"in negative", &ledger.TransferIn{Number: "n", From: store, Lines: lines("A", -1), Staff: "1"}, "quantity -1"},
		{"in no sender", &ledger.TransferIn{Number: "n", Lines: lines("A", 1), Staff: "1"}, "no sending store"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			till := ledgertest.NewTill(store, 1, 1)
			_, err := till.Next(tc.body, now, "k")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ledger.ErrInvalidBody)):
				t.Fatalf("got %v, want an invalid body error containing %q", err, tc.want)
			}
		})
	}
}

// localCheck signs body as till's next event and holds it to CheckLocal;
// the till's position only moves when it passes.
func localCheck(t *testing.T, s *ledger.State, idx *ledger.MemIndex, till *ledgertest.Till, body ledger.Body) (*ledger.Event, error) {
	t.Helper()
	saved := *till
	ev, err := till.Next(body, now+int64(till.Seq), "k")
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	if err := s.CheckLocal(ev); err != nil {
		*till = saved
		return nil, err
	}
	if idx != nil {
		idx.Add(ev)
	}
	apply(t, s, ev)
	return ev, nil
}

func TestTransferMovesStockAndLocalRules(t *testing.T) {
	a := ledger.NewState(store)
	tillA := ledgertest.NewTill(store, 1, 1)
	localCheck(t, a, nil, tillA, &ledger.StockReceive{Lines: lines("A", 10, "B", 4), Staff: "1"})
	num := ledger.TransferNumber(store, 1, 2)
	if _, err := localCheck(t, a, nil, tillA, &ledger.TransferOut{Number: num, To: storeB, Lines: lines("A", 3, "B", 4), Staff: "1"}); err != nil {
		t.Fatalf("transfer out: %v", err)
	}
	if got := a.Fold().StockTotal("A"); got != 7 {
		t.Fatalf("A at the sender = %d after sending 3 of 10, want 7", got)
	}
	if got := a.Fold().StockTotal("B"); got != 0 {
		t.Fatalf("B at the sender = %d, want 0", got)
	}
	bad := []struct {
		name string
		body ledger.Body
		want string
	}{
		{"to own store", &ledger.TransferOut{Number: "x-1", To: store, Lines: lines("A", 1), Staff: "1"}, "destination is this store"},
		{"number reused", &ledger.TransferOut{Number: num, To: storeB, Lines: lines("A", 1), Staff: "1"}, "already used"},
		{"received at the sender", &ledger.TransferIn{Number: num, From: storeB, Lines: lines("A", 1), Staff: "1"}, "sent by this store"},
		{"received from itself", &ledger.TransferIn{Number: "other", From: store, Lines: lines("A", 1), Staff: "1"}, "sent by this store"},
	}
	for _, tc := range bad {
		before := a.Fold().StockTotal("A")
		if _, err := localCheck(t, a, nil, tillA, tc.body); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
		if got := a.Fold().StockTotal("A"); got != before {
			t.Errorf("%s: stock moved from %d to %d on a refused event", tc.name, before, got)
		}
	}

	idx := ledger.NewMemIndex()
	b := ledger.NewStateWith(storeB, idx)
	tillB := ledgertest.NewTill(storeB, 2, 1)
	in := &ledger.TransferIn{Number: num, From: store, Sent: lines("A", 3, "B", 4), Lines: lines("A", 3, "B", 3), Note: "one broken", Staff: "1"}
	if _, err := localCheck(t, b, idx, tillB, in); err != nil {
		t.Fatalf("transfer in: %v", err)
	}
	if ga, gb := b.Fold().StockTotal("A"), b.Fold().StockTotal("B"); ga != 3 || gb != 3 {
		t.Fatalf("receiver stock A=%d B=%d, want 3 and 3", ga, gb)
	}
	if d := ledger.Differences(a.Fold().TransferOut(num).Lines, b.Fold().TransferIn(num)[0].Lines); len(d) != 1 || d["B"] != -1 {
		t.Fatalf("differences %v, want B: -1", d)
	}
	if _, err := localCheck(t, b, idx, tillB, in); err == nil || !strings.Contains(err.Error(), "already received") {
		t.Fatalf("received twice: got %v, want already received", err)
	}
	// A second till of the store, after a restart from a checkpoint, still
	// knows the transfer was received.
	cp, _, err := b.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	r, err := ledger.RestoreState(storeB, cp, idx)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	till2 := ledgertest.NewTill(storeB, 3, 2)
	if _, err := localCheck(t, r, idx, till2, in); err == nil || !strings.Contains(err.Error(), "already received") {
		t.Fatalf("received twice after a restore: got %v, want already received", err)
	}
	if got := len(r.Fold().TransfersIn()); got != 1 {
		t.Fatalf("restored %d receipts, want 1", got)
	}
}
