package ledgerdb_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
)

// TestOpensLedgersOfThePreviousRelease opens ledger directories the
// release before issue 17 wrote (testdata/README.md): after a power cut
// and after a clean close. Both must open with every event, verify, and
// take the next sale.
func TestOpensLedgersOfThePreviousRelease(t *testing.T) {
	root := t.TempDir()
	untar(t, "testdata/prev-release-ledgers.tar.gz", root)
	till := ledger.TillOf(ledgertest.Key(1))
	for _, name := range []string{"crashed", "closed"} {
		dir := filepath.Join(root, name)
		db := open(t, dir)
		if v := db.Vector(); v[till] != 6000 {
			t.Fatalf("%s: vector %v, want 6000 events", name, v)
		}
		if ev, existing, err := db.Append(t.Context(), ledgertest.Key(1), ledgertest.Sale3(), "k17", now); err != nil || !existing || ev.Seq != 18 {
			t.Fatalf("%s: idempotency key of seq 18 after the upgrade: %v existing=%v", name, err, existing)
		}
		ev, _, err := db.Append(t.Context(), ledgertest.Key(1), ledgertest.Sale3(), "after-upgrade", now+10_000)
		if err != nil || ev.Seq != 6001 {
			t.Fatalf("%s: append after the upgrade: %v", name, err)
		}
		// A sale of the old release is found through the index the
		// upgrade built: refund its milk, then refuse a second time.
		old, err := db.Get(till, 17)
		if err != nil {
			t.Fatal(err)
		}
		refund := func(at int64) error {
			var rf *ledger.Refund
			var err error
			db.View(func(s *ledger.State) {
				var lines []ledger.RefundLine
				if lines, err = s.Fold().RefundLines(old.ID(), []ledger.Pick{{Line: 0, Qty: 2}}); err == nil {
					rf = &ledger.Refund{Sale: old.ID(), Currency: "EUR", Staff: "1", Lines: lines,
						Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: lines[0].Amount}}}
				}
			})
			if err != nil {
				return err
			}
			_, _, err = db.Append(t.Context(), ledgertest.Key(1), rf, "", at)
			return err
		}
		if err := refund(now + 20_000); err != nil {
			t.Fatalf("%s: refund a sale of the previous release: %v", name, err)
		}
		if err := refund(now + 30_000); !errors.Is(err, ledger.ErrOverRefund) {
			t.Fatalf("%s: second refund of the same line: %v, want ErrOverRefund", name, err)
		}
		db.Close()
		// The upgrade stored a checkpoint: the next start applies nothing
		// again and still knows the refund.
		db = open(t, dir)
		if n := db.Replayed(); n != 0 {
			t.Fatalf("%s: second start applied %d events, want 0 (the checkpoint)", name, n)
		}
		if err := refund(now + 40_000); !errors.Is(err, ledger.ErrOverRefund) {
			t.Fatalf("%s: refund after a restart: %v, want ErrOverRefund", name, err)
		}
		db.Close()
		rep, err := ledgerdb.Verify(dir, quiet())
		if err != nil || !rep.OK() || len(rep.Chains) != 1 || rep.Chains[0].Head != 6002 {
			t.Fatalf("%s: verify after the upgrade: %+v %v", name, rep, err)
		}
	}
}

// untar extracts a gzipped tar into dir, leaving runs of zeros as holes:
// the crash image holds sparse files of 16 and 128 MB.
func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	zero := make([]byte, 64<<10)
	buf := make([]byte, 64<<10)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o700); err != nil {
				t.Fatal(err)
			}
			continue
		case tar.TypeReg, tar.TypeGNUSparse:
		default:
			t.Fatalf("%s: unexpected entry type %c", h.Name, h.Typeflag)
		}
		out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		var off int64
		for {
			n, err := io.ReadFull(tr, buf)
			if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
				if _, werr := out.WriteAt(buf[:n], off); werr != nil {
					t.Fatal(werr)
				}
			}
			off += int64(n)
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := out.Truncate(off); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
