package ledgerdb_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
)

const crashChildEnv = "LEDGERDB_CRASH_CHILD_DIR"

// TestCrashChild is the child of TestCrashKill9: it appends sales until it
// is killed, printing "ack <seq> <id>" after each Append returns.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashKill9")
	}
	cfg := ledgerdb.DefaultConfig(dir, store)
	cfg.Logger, cfg.Ballast = quiet(), 0
	db, err := ledgerdb.Open(cfg)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	key := ledgertest.Key(1)
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		ev, _, err := db.Append(t.Context(), key, ledgertest.Sale3(), "", time.Now().UnixMilli())
		if err != nil {
			fmt.Fprintln(w, "error", err)
			w.Flush()
			os.Exit(2)
		}
		fmt.Fprintf(w, "ack %d %s\n", ev.Seq, ev.ID())
		w.Flush() // the cashier is told only now
	}
}

// TestCrashKill9: a child appends sales in a loop; the parent kill -9s it
// at a random moment, reopens the store, and checks that every sale the
// child acknowledged is there with the same ID and that every chain
// verifies. Each round continues the same ledger.
func TestCrashKill9(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("child")
	}
	rounds := 20
	if testing.Short() {
		rounds = 3
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	acked := map[uint64]string{}
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a random number of acknowledgements (1..400), so the
		// kill lands at a random point of an append.
		killAt := 1 + rng.IntN(400)
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "ack" {
				seq, _ := strconv.ParseUint(f[1], 10, 64)
				acked[seq] = f[2]
				n++
				if n == killAt {
					cmd.Process.Signal(syscall.SIGKILL)
					break
				}
			} else if len(f) > 0 && f[0] == "error" {
				t.Fatalf("round %d: child: %s", round, sc.Text())
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() { // drain acks printed before the kill landed
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "ack" {
				seq, _ := strconv.ParseUint(f[1], 10, 64)
				acked[seq] = f[2]
			}
		}
		cmd.Wait()
		if n == 0 {
			t.Fatalf("round %d: child acknowledged nothing", round)
		}

		rep, err := ledgerdb.Verify(dir, quiet())
		if err != nil || !rep.OK() {
			t.Fatalf("round %d: verify after kill: %+v %v", round, rep, err)
		}
		db := open(t, dir)
		till := ledger.TillOf(ledgertest.Key(1))
		for seq, id := range acked {
			ev, err := db.Get(till, seq)
			if err != nil || ev.ID().String() != id {
				t.Fatalf("round %d: acknowledged seq %d lost or changed: %v", round, seq, err)
			}
		}
		if head := db.Vector()[till]; head < uint64(len(acked)) {
			t.Fatalf("round %d: head %d below %d acknowledged", round, head, len(acked))
		}
		if len(db.Problems()) != 0 {
			t.Fatalf("round %d: problems after kill: %v", round, db.Problems())
		}
		db.Close()
	}
	t.Logf("%d rounds, %d sales acknowledged and found", rounds, len(acked))
}
