package badgeropen_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	boptions "github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/y"

	"github.com/tillmesh/tillmesh/node/badgeropen"
)

func options(dir string) badger.Options {
	return badger.DefaultOptions(dir).WithSyncWrites(true).WithLogger(nil).
		WithMemTableSize(1 << 20).WithValueLogFileSize(1 << 20).WithValueThreshold(256)
}

// value returns record i's value; every third is large enough to live in
// the value log rather than the LSM tree.
func value(i int) []byte {
	v := []byte(fmt.Sprintf("value-%d", i))
	if i%3 == 0 {
		v = append(v, bytes.Repeat([]byte{byte(i)}, 1024)...)
	}
	return v
}

func write(t *testing.T, db *badger.DB, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(fmt.Sprintf("key-%04d", i)), value(i)) })
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
}

func check(t *testing.T, db *badger.DB, n int) {
	t.Helper()
	err := db.View(func(txn *badger.Txn) error {
		for i := range n {
			item, err := txn.Get([]byte(fmt.Sprintf("key-%04d", i)))
			if err != nil {
				return fmt.Errorf("key %d: %w", i, err)
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("key %d: %w", i, err)
			}
			if !bytes.Equal(v, value(i)) {
				return fmt.Errorf("key %d: got %d bytes %.20q, want %d bytes %.20q", i, len(v), v, len(value(i)), value(i))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("a synced record is gone or wrong: %v", err)
	}
}

func logFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".mem") || strings.HasSuffix(n, ".vlog") {
			out = append(out, n)
		}
	}
	return out
}

// copyDir copies a Badger directory, open or not: with synced writes what
// a power cut keeps of the files is what they hold now.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// cutDuringStart builds the directory a power cut leaves when it strikes
// a restart right after Badger's open created its files: session one
// writes n synced records and is cut (not closed); session two opens that
// directory, which creates a new memtable log and value log, and is cut
// at once. Neither new file's size was synced, so both come back at 0
// bytes; the older files are as session one synced them.
func cutDuringStart(t *testing.T, n int) (dir string, created []string) {
	t.Helper()
	base := t.TempDir()
	live, cut1, cut2 := filepath.Join(base, "live"), filepath.Join(base, "cut1"), filepath.Join(base, "cut2")
	db, err := badger.Open(options(live))
	if err != nil {
		t.Fatal(err)
	}
	write(t, db, 0, n)
	copyDir(t, live, cut1)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	copyDir(t, cut1, cut2)
	before := logFiles(t, cut1)
	db, err = badger.Open(options(cut1))
	if err != nil {
		t.Fatalf("reopen after a cut with synced writes: %v", err)
	}
	for _, f := range logFiles(t, cut1) {
		if !slices.Contains(before, f) {
			created = append(created, f)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(created) == 0 {
		t.Fatalf("badger's open created no log file (before %v): the scenario no longer applies", before)
	}
	for _, f := range created {
		if err := os.WriteFile(filepath.Join(cut2, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cut2, created
}

// TestPlainBadgerFailsOnCutDirectory documents upstream issue 2207: if it
// fails, the Badger release in go.mod opens such a directory itself, and
// the workaround in this package may go.
func TestPlainBadgerFailsOnCutDirectory(t *testing.T) {
	dir, created := cutDuringStart(t, 50)
	db, err := badger.Open(options(dir))
	if err == nil {
		db.Close()
		t.Fatalf("plain badger.Open opened a directory whose new logs %v are 0 bytes: dgraph-io/badger issue 2207 is fixed in this release, drop the workaround", created)
	}
	if !strings.Contains(err.Error(), "Create a new file") {
		t.Errorf("plain badger.Open: got %v, want the z.NewFile error of issue 2207", err)
	}
}

func TestOpenAfterCutDuringStart(t *testing.T) {
	const n = 300
	dir, created := cutDuringStart(t, n)
	db, rep, err := badgeropen.Open(options(dir))
	if err != nil {
		t.Fatalf("open after a cut during start-up (new logs %v at 0 bytes): %v", created, err)
	}
	if len(rep) != len(created) {
		t.Errorf("repairs: got %v, want one per file the cut emptied %v", rep, created)
	}
	check(t, db, n)
	write(t, db, n, n+10) // and it takes writes
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The next start opens as plainly as any other.
	db, rep, err = badgeropen.Open(options(dir))
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	defer db.Close()
	if len(rep) != 0 {
		t.Errorf("second open repaired %v, want nothing", rep)
	}
	check(t, db, n+10)
}

// TestOpenAfterCutAtOpenTwice: cuts during two starts in a row, the
// second after the first start's repair.
func TestOpenAfterCutAtOpenTwice(t *testing.T) {
	dir := t.TempDir()
	db, _, err := badgeropen.Open(options(dir))
	if err != nil {
		t.Fatal(err)
	}
	write(t, db, 0, 100)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var repairs int
	for range 2 {
		if _, err := badgeropen.LeaveCutAtOpen(dir); err != nil {
			t.Fatal(err)
		}
		rep, err := badgeropen.Prepare(options(dir))
		if err != nil {
			t.Fatal(err)
		}
		repairs += len(rep)
	}
	if repairs != 4 {
		t.Errorf("repairs: got %d, want 4", repairs)
	}
	db, _, err = badgeropen.Open(options(dir))
	if err != nil {
		t.Fatalf("open after two cuts at open: %v", err)
	}
	defer db.Close()
	check(t, db, 100)
}

// TestPrepareLeavesGoodFilesAlone: a log holding a header (or more) is
// Badger's to read, whatever its contents.
func TestPrepareLeavesGoodFilesAlone(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"00003.mem":   bytes.Repeat([]byte{0}, 20),
		"000004.vlog": bytes.Repeat([]byte{7}, 64),
		"000001.sst":  nil, // not a log: never touched
		"MANIFEST":    nil,
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := badgeropen.Prepare(options(dir))
	if err != nil || len(rep) != 0 {
		t.Fatalf("Prepare: got %v, %v; want no repair", rep, err)
	}
	for n, b := range files {
		got, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s changed: %d bytes, %v", n, len(got), err)
		}
	}
}

func TestPrepareRepairs(t *testing.T) {
	dir := t.TempDir()
	for n, size := range map[string]int{"00002.mem": 0, "00003.mem": 7, "000005.vlog": 0, "000006.vlog": 19} {
		if err := os.WriteFile(filepath.Join(dir, n), make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := badgeropen.Prepare(options(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep) != 4 {
		t.Errorf("repairs: got %v, want 4", rep)
	}
	for _, n := range []string{"00002.mem", "00003.mem"} {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: got %v, want removed", n, err)
		}
	}
	for _, n := range []string{"000005.vlog", "000006.vlog"} {
		fi, err := os.Stat(filepath.Join(dir, n))
		if err != nil || fi.Size() != 20 {
			t.Errorf("%s: got %v, %v; want a 20-byte header (the number stays taken)", n, fi, err)
		}
	}
}

func TestPrepareRefusesEncrypted(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "000002.vlog"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := badgeropen.Prepare(options(dir).WithEncryptionKey(make([]byte, 32))); err == nil || !strings.Contains(err.Error(), "000002.vlog") {
		t.Errorf("Prepare of an encrypted store: got %v, want an error naming the file", err)
	}
}

func TestDirSyncerSyncsOnlyAfterAChange(t *testing.T) {
	dir := t.TempDir()
	s := badgeropen.NewDirSyncer(dir)
	steps := []struct {
		what  string
		do    func()
		syncs int
	}{
		{"first sync", func() {}, 1},
		{"nothing changed", func() {}, 1},
		{"a file created", func() { os.WriteFile(filepath.Join(dir, "00002.mem"), nil, 0o600) }, 2},
		{"a file written, none created", func() { os.WriteFile(filepath.Join(dir, "00002.mem"), []byte("x"), 0o600) }, 2},
		{"a file removed", func() { os.Remove(filepath.Join(dir, "00002.mem")) }, 3},
	}
	for _, st := range steps {
		st.do()
		if err := s.Sync(); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		if got := s.Syncs(); got != st.syncs {
			t.Errorf("%s: %d fsyncs, want %d", st.what, got, st.syncs)
		}
	}
	os.WriteFile(filepath.Join(dir, "000001.sst"), nil, 0o600)
	stop := s.Start(time.Millisecond, nil)
	deadline := time.Now().Add(10 * time.Second)
	for s.Syncs() < 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // poll interval
	}
	stop()
	stop() // twice is fine
	if s.Syncs() != 4 {
		t.Errorf("background check: %d fsyncs, want 4", s.Syncs())
	}
}

// cutAfterStartupFlush builds the directory a cut leaves on a file system
// that drops every directory entry nobody synced, when it strikes after
// Badger's open flushed the replayed memtable to a table and recorded it
// in the (synced) manifest, but before anyone synced the directory: the
// manifest names the table, the table's file is gone, and the memtable
// log whose deletion was not synced either is back.
func cutAfterStartupFlush(t *testing.T, n int) string {
	t.Helper()
	base := t.TempDir()
	live, cut1, cut2 := filepath.Join(base, "live"), filepath.Join(base, "cut1"), filepath.Join(base, "cut2")
	db, err := badger.Open(options(live))
	if err != nil {
		t.Fatal(err)
	}
	write(t, db, 0, n)
	copyDir(t, live, cut1) // records in the memtable log, no table yet
	db.Close()
	copyDir(t, cut1, cut2)
	before := logFiles(t, cut1)
	db, err = badger.Open(options(cut1))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for { // until the replayed memtable is flushed and its log deleted
		gone := false
		for _, f := range before {
			if _, err := os.Stat(filepath.Join(cut1, f)); strings.HasSuffix(f, ".mem") && errors.Is(err, os.ErrNotExist) {
				gone = true
			}
		}
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("badger never flushed the replayed memtable (%v)", logFiles(t, cut1))
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	manifest, err := os.ReadFile(filepath.Join(cut1, badger.ManifestFilename))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.WriteFile(filepath.Join(cut2, badger.ManifestFilename), manifest, 0o600); err != nil {
		t.Fatal(err)
	}
	return cut2
}

func TestOpenAfterCutBeforeTheFlushedTableWasSynced(t *testing.T) {
	const n = 200
	dir := cutAfterStartupFlush(t, n)
	plain := filepath.Join(t.TempDir(), "plain")
	copyDir(t, dir, plain)
	if db, err := badger.Open(options(plain)); err == nil {
		db.Close()
		t.Fatal("plain badger.Open opened a manifest naming a missing table: the scenario no longer applies")
	} else {
		t.Logf("plain badger.Open: %v", err)
	}
	db, rep, err := badgeropen.Open(options(dir))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	if len(rep) == 0 || !strings.Contains(rep[0].String(), "manifest") {
		t.Errorf("repairs: %v, want the missing table deleted from the manifest", rep)
	}
	check(t, db, n)
}

// TestPrepareRefusesAMissingTableWithoutALog: a missing table whose
// records no memtable log holds is loss, not a cut to repair: Prepare
// says so and changes nothing.
func TestPrepareRefusesAMissingTableWithoutALog(t *testing.T) {
	dir := cutAfterStartupFlush(t, 50)
	for _, f := range logFiles(t, dir) {
		if strings.HasSuffix(f, ".mem") {
			os.Remove(filepath.Join(dir, f))
		}
	}
	before, _ := os.ReadFile(filepath.Join(dir, badger.ManifestFilename))
	if _, err := badgeropen.Prepare(options(dir)); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Prepare: got %v, want an error saying tables are missing", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, badger.ManifestFilename))
	if !bytes.Equal(before, after) {
		t.Error("Prepare changed the manifest of a store it refused")
	}
}

// TestPrepareRefusesAMissingOlderTable: a table lost while a newer one
// survived is not what a cut leaves (see repairManifest): Prepare refuses
// rather than open without its records.
func TestPrepareRefusesAMissingOlderTable(t *testing.T) {
	base := t.TempDir()
	live, cut := filepath.Join(base, "live"), filepath.Join(base, "cut")
	for i := range 3 {
		db, err := badger.Open(options(live))
		if err != nil {
			t.Fatal(err)
		}
		write(t, db, i*50, i*50+50)
		if i == 2 {
			copyDir(t, live, cut) // the third batch only in the memtable log
		}
		db.Close() // the first two batches each flushed to a table
	}
	os.Remove(filepath.Join(cut, "000001.sst"))
	before, _ := os.ReadFile(filepath.Join(cut, badger.ManifestFilename))
	if _, err := badgeropen.Prepare(options(cut)); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("Prepare: got %v, want an error saying the store is damaged", err)
	}
	after, _ := os.ReadFile(filepath.Join(cut, badger.ManifestFilename))
	if !bytes.Equal(before, after) {
		t.Error("Prepare changed the manifest of a store it refused")
	}
	// Salvage reads what remains: the second and third batches.
	if _, err := badgeropen.PrepareSalvage(options(cut)); err != nil {
		t.Fatalf("PrepareSalvage: %v", err)
	}
	db, err := badger.Open(options(cut))
	if err != nil {
		t.Fatalf("open after PrepareSalvage: %v", err)
	}
	defer db.Close()
	err = db.View(func(txn *badger.Txn) error {
		for i := 50; i < 150; i++ {
			if _, err := txn.Get([]byte(fmt.Sprintf("key-%04d", i))); err != nil {
				return fmt.Errorf("key %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("salvaged store: %v", err)
	}
}

// An older value log that holds no entry, left preallocated by a cut
// (Badger shortens it with a truncate it never syncs), is cut back to its
// header so that Badger deletes it: the power-cut scenario found one left
// per start. A log that holds entries, and the newest, are left alone.
func TestPrepareTrimsEmptyOlderValueLogs(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(options(dir))
	if err != nil {
		t.Fatal(err)
	}
	write(t, db, 0, 30) // every third value lives in the value log
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	newest := -1
	for _, n := range logFiles(t, dir) {
		var id int
		if _, err := fmt.Sscanf(n, "%06d.vlog", &id); err == nil && strings.HasSuffix(n, ".vlog") {
			newest = max(newest, id)
		}
	}
	withEntries := filepath.Join(dir, fmt.Sprintf("%06d.vlog", newest))
	kept, err := os.ReadFile(withEntries)
	if err != nil || len(kept) <= 20 {
		t.Fatalf("the value log with entries: %d bytes, %v", len(kept), err)
	}
	// An empty older log, preallocated, and a newer empty one on top.
	leak := filepath.Join(dir, fmt.Sprintf("%06d.vlog", newest+1))
	if err := os.WriteFile(leak, append(append([]byte(nil), kept[:20]...), make([]byte, 1<<20)...), 0o600); err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(dir, fmt.Sprintf("%06d.vlog", newest+5))
	if err := os.WriteFile(top, append([]byte(nil), kept[:20]...), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := badgeropen.Prepare(options(dir))
	if err != nil || len(rep) != 1 || rep[0].File != leak {
		t.Fatalf("Prepare: %v, %v; want the empty older log trimmed", rep, err)
	}
	if got, _ := os.ReadFile(withEntries); !bytes.Equal(got, kept) {
		t.Fatal("the value log with entries was changed")
	}
	db, err = badger.Open(options(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check(t, db, 30)
	if _, err := os.Stat(leak); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Badger kept the trimmed log: %v", err)
	}
}

// The Badger fork has no ZSTD (cmd/third_party/badger-v4): opening with it
// is refused with the fork's error rather than failing at the first table
// written, and a Snappy database (the ledger's) still round-trips.
func TestOpenRefusesZSTD(t *testing.T) {
	if _, _, err := badgeropen.Open(options(t.TempDir()).WithCompression(boptions.ZSTD)); !errors.Is(err, y.ErrZSTD) {
		t.Fatalf("open with ZSTD: %v, want y.ErrZSTD", err)
	}
	dir := t.TempDir()
	db, _, err := badgeropen.Open(options(dir).WithCompression(boptions.Snappy))
	if err != nil {
		t.Fatal(err)
	}
	write(t, db, 0, 50)
	if err := db.Flatten(1); err != nil {
		t.Fatal(err)
	}
	check(t, db, 50)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// The Badger fork makes no cache it would never read (its
// README.tillmesh.md): an unencrypted database has no index cache, and an
// uncompressed one no block cache, whatever sizes the options ask for;
// the tables' records read back through their mappings alone. A
// compressed database (the ledger's) keeps its block cache.
func TestOpenMakesNoCacheItNeverReads(t *testing.T) {
	for _, tc := range []struct {
		name       string
		c          boptions.CompressionType
		blockCache bool
	}{
		{"uncompressed (the inventory)", boptions.None, false},
		{"Snappy (the ledger)", boptions.Snappy, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, _, err := badgeropen.Open(options(t.TempDir()).WithCompression(tc.c).
				WithBlockCacheSize(1 << 20).WithIndexCacheSize(1 << 20))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := db.BlockCacheMetrics() != nil; got != tc.blockCache {
				t.Errorf("block cache made: %v, want %v", got, tc.blockCache)
			}
			if db.IndexCacheMetrics() != nil {
				t.Errorf("index cache made for an unencrypted database")
			}
			wb := db.NewWriteBatch()
			for i := range 3000 {
				if err := wb.Set([]byte(fmt.Sprintf("key-%04d", i)), value(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := wb.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := db.Flatten(1); err != nil {
				t.Fatal(err)
			}
			check(t, db, 3000)
		})
	}
}

// The Badger fork writes a new table with write(2) and maps it after (its
// README.tillmesh.md), so the pages a flush writes are not in the
// process's resident set unless something reads them: only the index and
// the blocks Badger reads when it opens a table come in. Upstream copied
// the table into its new mapping, every page of it resident.
func TestNewTablesAreNotResident(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/smaps")
	}
	dir := t.TempDir()
	// No compaction: it would read the tables it merges.
	db, _, err := badgeropen.Open(options(dir).WithSyncWrites(false).WithValueThreshold(1 << 10).
		WithNumLevelZeroTables(50).WithNumLevelZeroTablesStall(60).WithNumCompactors(0).WithCompression(boptions.None))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wb := db.NewWriteBatch()
	v := make([]byte, 500)
	for i := range 12000 { // about 6 MB: 5 or 6 flushed memtables of 1 MB
		binary.BigEndian.PutUint64(v, uint64(i)*0x9e3779b97f4a7c15)
		if err := wb.Set([]byte(fmt.Sprintf("key-%06d", i)), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	var rss, size int64
	deadline := time.Now().Add(20 * time.Second)
	for {
		rss, size = mappedTables(t, dir)
		if size >= 4<<20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling Badger's background flushes
	}
	if size < 4<<20 {
		t.Fatalf("only %d bytes of tables mapped after writing 6 MB", size)
	}
	if rss > size/3 {
		t.Errorf("%d of %d bytes of the new tables resident, want under a third", rss, size)
	}
	t.Logf("%d of %d bytes of the new tables resident", rss, size)
}

// TestNewValueLogIsNotResident: values are written to the value log's
// file, not copied into its mapping (the Badger fork's
// README.tillmesh.md), so what a till writes there is not resident in it;
// a value still reads back.
func TestNewValueLogIsNotResident(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/smaps")
	}
	dir := t.TempDir()
	db, _, err := badgeropen.Open(options(dir).WithSyncWrites(false).WithValueThreshold(1 << 10))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wb := db.NewWriteBatch()
	const n, size = 1000, 4 << 10 // 4 MB of values, all in the value log
	for i := range n {
		v := make([]byte, size) // a batch keeps the slice it is given
		binary.BigEndian.PutUint64(v, uint64(i))
		if err := wb.Set([]byte(fmt.Sprintf("key-%06d", i)), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	rss, _ := mappedFiles(t, dir, ".vlog")
	if rss > n*size/4 {
		t.Errorf("%d bytes of the value log resident after writing %d, want under a quarter", rss, n*size)
	}
	t.Logf("%d bytes of the value log resident after writing %d", rss, n*size)
	err = db.View(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte("key-000777"))
		if err != nil {
			return err
		}
		got, err := it.ValueCopy(nil)
		if err == nil && (len(got) != size || binary.BigEndian.Uint64(got) != 777) {
			err = fmt.Errorf("key-000777 reads back %d bytes starting %x", len(got), got[:8])
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The Badger fork reads tables and the value log with pread(2), not
// through their mappings (its README.tillmesh.md), so reading every
// record back, by iteration, by key and by a compaction, brings none of
// their pages into the process's resident set. Upstream read through the
// mappings, and every page read (with the kernel's fault-around, up to
// 64 kB about it) stayed resident until the file was closed.
func TestReadsLeaveFilesNotResident(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/smaps")
	}
	dir := t.TempDir()
	opts := options(dir).WithSyncWrites(false).WithValueThreshold(1 << 10).
		WithValueLogFileSize(4 << 20).WithCompression(boptions.None)
	const n = 12000 // about 3.4 MB of tables and 12 MB of value log
	val := func(i int) []byte {
		v := make([]byte, 500+(i%2)*1500) // odd records in the value log
		binary.BigEndian.PutUint64(v, uint64(i)*0x9e3779b97f4a7c15)
		return v
	}
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%06d", i)) }
	db, _, err := badgeropen.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	wb := db.NewWriteBatch()
	for i := range n {
		if err := wb.Set(key(i), val(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	// Reopened, nothing the writes touched is mapped.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, _, err = badgeropen.Open(opts); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, size := mappedFiles(t, dir, ".sst"); size < 3<<20 {
		t.Fatalf("only %d bytes of tables mapped after writing 3.4 MB", size)
	}
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		i := 0
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if !bytes.Equal(it.Item().Key(), key(i)) || !bytes.Equal(v, val(i)) {
				return fmt.Errorf("record %d: got key %q and %d bytes of value", i, it.Item().Key(), len(v))
			}
			i++
		}
		if i != n {
			return fmt.Errorf("iterated %d records, want %d", i, n)
		}
		for i := range n {
			item, err := txn.Get(key(i))
			if err != nil {
				return fmt.Errorf("get record %d: %w", i, err)
			}
			if v, err := item.ValueCopy(nil); err != nil || !bytes.Equal(v, val(i)) {
				return fmt.Errorf("get record %d: %d bytes, err %v", i, len(v), err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Flatten(1); err != nil { // a compaction reads every table
		t.Fatal(err)
	}
	sst, sstSize := mappedFiles(t, dir, ".sst")
	vlog, vlogSize := mappedFiles(t, dir, ".vlog")
	t.Logf("resident after reading every record: %d of %d bytes of tables, %d of %d bytes of value log", sst, sstSize, vlog, vlogSize)
	if sst > 64<<10 {
		t.Errorf("%d of %d bytes of the tables resident after reading them, want at most 64 kB", sst, sstSize)
	}
	// Opening a value log file reads its header through the mapping.
	if vlog > 256<<10 {
		t.Errorf("%d of %d bytes of the value log resident after reading it, want at most 256 kB", vlog, vlogSize)
	}
}

// mappedTables sums the size and the resident bytes of this process's
// mappings of the .sst files in dir.
func mappedTables(t *testing.T, dir string) (rss, size int64) {
	t.Helper()
	return mappedFiles(t, dir, ".sst")
}

// mappedFiles sums the size and the resident bytes of this process's
// mappings of the files in dir whose names end in suffix.
func mappedFiles(t *testing.T, dir, suffix string) (rss, size int64) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") { // a mapping's header
			in = len(f) >= 6 && strings.HasPrefix(f[5], dir) && strings.HasSuffix(f[5], suffix)
			continue
		}
		if !in || len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Size:":
			size += n << 10
		case "Rss:":
			rss += n << 10
		}
	}
	return rss, size
}
