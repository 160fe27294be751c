package pki_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/pki"
)

func TestInitAndEnroll(t *testing.T) {
	dir, t1, t2 := t.TempDir(), t.TempDir(), t.TempDir()
	s, err := pki.InitStore(dir, "High Street")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.InitStore(dir, "again"); err == nil {
		t.Fatal("init over an existing store: no error")
	}
	for _, f := range []string{pki.StoreFileName, pki.CAKeyFileName} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, pki.StoreFileName))
	if strings.Contains(string(b), "private") || len(b) > 400 {
		t.Fatalf("store file holds more than it should: %s", b)
	}
	now := time.Unix(1_790_000_000, 0)
	c, err := pki.Enroll(dir, t1, 1, "Front", now)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.LoadOrCreateKey(filepath.Join(t1, pki.TillKeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	got, err := pki.LoadCertificate(filepath.Join(t1, pki.TillCertFileName), s, key)
	if err != nil || got.Number != 1 || got.Till != ledger.TillOf(key) || got.Till != c.Till {
		t.Fatalf("certificate %+v %v", got, err)
	}
	if _, err := pki.Enroll(dir, t2, 1, "Back", now); err == nil || !strings.Contains(err.Error(), "never used before") {
		t.Fatalf("second key for number 1: %v", err)
	}
	if _, err := pki.Enroll(dir, t2, 2, "Back", now); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.Enroll(dir, t1, 1, "Front", now); err != nil {
		t.Fatalf("re-enrolling the same till and number: %v", err)
	}
	// A till key and certificate that do not belong together are refused.
	k2, _ := pki.LoadOrCreateKey(filepath.Join(t2, pki.TillKeyFileName))
	if _, err := pki.LoadCertificate(filepath.Join(t1, pki.TillCertFileName), s, k2); err == nil {
		t.Fatal("certificate of till 1 accepted with till 2's key")
	}
	// The key persists: a restart keeps the identity.
	again, _ := pki.LoadOrCreateKey(filepath.Join(t1, pki.TillKeyFileName))
	if ledger.TillOf(again) != ledger.TillOf(key) {
		t.Fatal("till key changed on reload")
	}
	if fi, _ := os.Stat(filepath.Join(t1, pki.TillKeyFileName)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("till key mode %v", fi.Mode().Perm())
	}
}
