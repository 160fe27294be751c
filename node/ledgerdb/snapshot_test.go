package ledgerdb_test

import (
	"fmt"
	"testing"
)

func TestSnapshotSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	put := map[string][]byte{}
	for i := range 3000 { // more than one Badger transaction holds
		put[fmt.Sprintf("product/%05d", i)] = make([]byte, 600)
	}
	put["staff/1"] = []byte("Maria")
	if err := db.UpdateSnapshot("inventory", put, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateSnapshot("inventory", map[string][]byte{"staff/2": []byte("Carl")}, []string{"product/00007", "staff/1"}); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateSnapshot("other", map[string][]byte{"x": []byte("y")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateSnapshot("a/b", nil, nil); err == nil {
		t.Error("a set name with a slash was accepted")
	}
	db.Close()
	db = open(t, dir)
	defer db.Close()
	got, err := db.Snapshot("inventory")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3000 || string(got["staff/2"]) != "Carl" || got["staff/1"] != nil || got["product/00007"] != nil || len(got["product/00008"]) != 600 {
		t.Errorf("snapshot after reopen: %d records, staff/2 %q, staff/1 %q", len(got), got["staff/2"], got["staff/1"])
	}
	if none, err := db.Snapshot("missing"); err != nil || len(none) != 0 {
		t.Errorf("a set never written: %v, %v", none, err)
	}
}
