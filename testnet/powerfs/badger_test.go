package powerfs

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

const childEnv = "POWERFS_BADGER_CHILD"

var commitsFlag = flag.Int("powerfs.commits", 600, "TestBadgerKeepsSyncedWrites: most commits between two cuts (20000 fills several memtables)")

func badgerOptions(dir string) badger.Options {
	// As the till's ledger opens it (node/ledgerdb).
	return badger.DefaultOptions(dir).WithSyncWrites(true).WithMemTableSize(8 << 20).
		WithValueLogFileSize(64 << 20).WithBlockCacheSize(8 << 20).WithIndexCacheSize(4 << 20).
		WithLogger(nil)
}

func value(k int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("v%08d.", k)), 10+k%200)
}

// TestBadgerChild is the writer TestBadgerKeepsSyncedWrites kills: run
// with POWERFS_BADGER_CHILD=dir,first it opens Badger in dir, checks
// that keys 0 to first-1 hold their values (every commit acknowledged so
// far), then commits key after key from first on, printing "ok N" once
// N's commit returned. Badger runs in a process of its own because a
// FUSE server must not page-fault on its own mount: the faulting thread
// cannot be stopped for the garbage collector, which stops the goroutines
// that would answer the fault.
func TestBadgerChild(t *testing.T) {
	arg := os.Getenv(childEnv)
	if arg == "" {
		t.Skip("the writer of TestBadgerKeepsSyncedWrites; runs only as its child")
	}
	dir, first, _ := strings.Cut(arg, ",")
	k, _ := strconv.Atoi(first)
	db, err := badger.Open(badgerOptions(dir))
	if err != nil {
		fmt.Printf("open error: %v\n", err)
		os.Exit(3)
	}
	var lost []int
	err = db.View(func(tx *badger.Txn) error {
		for i := range k {
			it, err := tx.Get([]byte(fmt.Sprintf("k%08d", i)))
			if err != nil {
				lost = append(lost, i)
				continue
			}
			if v, err := it.ValueCopy(nil); err != nil || !bytes.Equal(v, value(i)) {
				lost = append(lost, i)
			}
		}
		return nil
	})
	if err != nil || len(lost) > 0 {
		fmt.Printf("check error: %v; %d of %d acknowledged commits lost or changed, first %v\n", err, len(lost), k, lost[:min(len(lost), 10)])
		os.Exit(5)
	}
	fmt.Printf("verified %d\n", k)
	for ; ; k++ {
		err := db.Update(func(tx *badger.Txn) error { return tx.Set([]byte(fmt.Sprintf("k%08d", k)), value(k)) })
		if err != nil {
			fmt.Printf("commit error: %v\n", err)
			os.Exit(4)
		}
		fmt.Printf("ok %d\n", k)
	}
}

// A Badger database with SyncWrites on the mount, its writer killed and
// the power cut after a random number of commits, keeps every commit it
// acknowledged: the next writer finds them all. (Cuts during Badger's
// own open are the testnet power-cut scenario's business: they hit
// Badger's unsynced new files, upstream issue dgraph-io/badger#2207.)
//
// The ext4 model, because under the POSIX model Badger v4.9.6 loses
// more than acknowledged writes: a memtable flush (at open, of the
// memtables the killed writer left, or when one fills) writes and msyncs an
// L0 table and records it in the MANIFEST without syncing the
// directory (DB.handleMemTableFlush; compactions do sync it), so a cut
// can leave a MANIFEST naming a table whose name was never durable, and
// Open fails with "file does not exist for table N". On ext4 the
// MANIFEST's fsync commits that name too.
func TestBadgerKeepsSyncedWrites(t *testing.T) {
	f := mountModel(t, Ext4)
	seed := uint64(time.Now().UnixNano() % 1_000_000)
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	// Badger does not sync the parent of the directory it makes: an
	// application makes it durable first, as the till's enrolment does.
	dir := filepath.Join(f.Mountpoint(), "db")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mustSyncDir(t, f.Mountpoint())
	next := 0 // every key below was acknowledged
	const rounds = 5
	for round := range rounds {
		want := 50 + rng.IntN(*commitsFlag)
		if round == rounds-1 {
			want = 1 // the last round only checks
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestBadgerChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d", childEnv, dir, next))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n, verified := 0, false
		for n < want && sc.Scan() {
			line := sc.Text()
			if k, ok := strings.CutPrefix(line, "ok "); ok {
				i, _ := strconv.Atoi(k)
				next = i + 1
				n++
			} else if strings.HasPrefix(line, "verified ") {
				verified = true
			} else if strings.Contains(line, "error") {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d (seed %d): %s", round, seed, line)
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		// What the writer printed after our last read was acknowledged
		// too.
		for sc.Scan() {
			if k, ok := strings.CutPrefix(sc.Text(), "ok "); ok {
				i, _ := strconv.Atoi(k)
				next = i + 1
				n++
			}
		}
		cmd.Wait()
		if !verified || n < want {
			t.Fatalf("round %d: the writer stopped after %d commits (verified %v): %s", round, n, verified, stderr.String())
		}
		t.Logf("round %d: the %d commits acknowledged before were all there; killed and cut after %d more", round, next-n, n)
		mustCut(t, f)
	}
}
