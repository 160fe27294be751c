package hq_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// TestBackupRestore: a backup restores to the same events, figures,
// logins and changes, with the change cursor moved far on; a damaged,
// truncated or foreign file, or a target that holds data, is refused
// and nothing is written.
func TestBackupRestore(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	store := hqtest.NewStore(90, 2)
	st, err := hq.OpenBadger(filepath.Join(dir, "hq"), quiet())
	if err != nil {
		t.Fatal(err)
	}
	h := newHQ(t, st, store)
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(91, 92)))
	u := &hqapi.Upload{Fence: 1, Events: raws(w.Sales(300, day0, 60_000)), Certs: store.EncodedCerts()}
	if res, err := h.Ingest(ctx, store.ID, store.Tills[0].ID, u); err != nil || res.Accepted != 300 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	if err := h.SetPassword(ctx, "admin", "backup-pass"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.PutProduct(ctx, &store.ID, hqapi.Product{SKU: "1", Name: "Tea", Price: 250, Currency: "EUR", TaxRate: 700, Unit: "ea"}, "admin"); err != nil {
		t.Fatal(err)
	}
	// The backup runs while HQ is open.
	if _, err := hq.BackupBadgerFile(ctx, filepath.Join(dir, "hq"), filepath.Join(dir, "x"), time.Now(), quiet()); !errors.Is(err, hq.ErrInUse) {
		t.Errorf("offline backup of an open storage: %v, want ErrInUse", err)
	}
	path := filepath.Join(dir, "hq.backup")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Backup(ctx, f, time.UnixMilli(day0))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if info.Events[store.Name] != 300 || len(info.Stores) != 1 {
		t.Errorf("backup info: %+v", info)
	}
	st.Close()

	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"truncated":   good[:len(good)/2],
		"no trailer":  good[:len(good)-10],
		"flipped bit": append(append([]byte(nil), good[:len(good)/2]...), append([]byte{good[len(good)/2] ^ 1}, good[len(good)/2+1:]...)...),
		"not backup":  []byte(`{"id":"store"}`),
		"empty":       nil,
	}
	for name, b := range bad {
		p := filepath.Join(dir, "bad.backup")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, "bad")
		if _, err := hq.RestoreBadgerFile(ctx, target, p, quiet()); !errors.Is(err, hq.ErrNotBackup) {
			t.Errorf("%s: restore: %v, want ErrNotBackup", name, err)
		}
		if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: the target exists after a refused restore (%v)", name, err)
		}
	}
	if _, err := hq.RestoreBadgerFile(ctx, filepath.Join(dir, "hq"), path, quiet()); !errors.Is(err, hq.ErrTarget) {
		t.Errorf("restore over data: %v, want ErrTarget", err)
	}

	target := filepath.Join(dir, "restored")
	if err := os.Mkdir(target, 0o700); err != nil { // an empty directory is fine
		t.Fatal(err)
	}
	if _, err := hq.RestoreBadgerFile(ctx, target, path, quiet()); err != nil {
		t.Fatal(err)
	}
	st2, err := hq.OpenBadger(target, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	h2 := newHQ(t, st2)
	checkFold(t, h2, store.ID, w.State)
	if u, err := st2.User(ctx, "admin"); err != nil || !hq.CheckSecret(u.Hash, "backup-pass") {
		t.Errorf("the login after a restore: %+v %v", u, err)
	}
	c, err := h2.PutProduct(ctx, &store.ID, hqapi.Product{SKU: "1", Name: "Tea", Price: 260, Currency: "EUR", TaxRate: 700, Unit: "ea"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if c.Cursor <= hq.CursorGap {
		t.Errorf("first change after a restore has cursor %d, want above %d", c.Cursor, uint64(hq.CursorGap))
	}
	cs, err := st2.AllChanges(ctx, 0, 10)
	if err != nil || len(cs) != 2 || cs[0].Cursor != 1 {
		t.Errorf("changes after a restore: %+v %v", cs, err)
	}
}

// FuzzReadBackupHeader: any file is either a backup whose parts add up
// or refused with ErrNotBackup; it never panics.
func FuzzReadBackupHeader(f *testing.F) {
	f.Add([]byte("tillmesh-hq-backup {\"version\":1}\nxxTMHQEND1"))
	f.Add([]byte("tillmesh-hq-backup {\"version\":1,\"created\":1}\n" + string(make([]byte, 48)) + "TMHQEND1"))
	f.Add([]byte("{}"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "fuzz.backup")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		fl, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer fl.Close()
		_, start, length, err := hq.ReadBackupHeader(fl)
		if err != nil {
			if !errors.Is(err, hq.ErrNotBackup) {
				t.Fatalf("error is not ErrNotBackup: %v", err)
			}
			return
		}
		if start < 0 || length < 0 || start+length > int64(len(b)) {
			t.Fatalf("stream at %d+%d in %d bytes", start, length, len(b))
		}
	})
}
