package testnet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node/p2p"
)

func TestBuiltinsParse(t *testing.T) {
	names := Builtins()
	for _, want := range []string{"outage", "steady", "crash", "relay-failover", "hq-outage", "skew", "wipe", "chaos", "internet-down"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("built-in %q missing (have %v)", want, names)
		}
	}
	for _, n := range names {
		for _, scale := range []Scale{Small, Full} {
			sc, err := Load(n, scale)
			if err != nil {
				t.Errorf("%s at %s: %v", n, scale, err)
				continue
			}
			if sc.Doc == "" || !strings.HasPrefix(sc.Doc, n+":") {
				t.Errorf("%s: the file should open with a comment \"%s: what it does\", got %q", n, n, sc.Doc)
			}
		}
	}
	outage, _ := Load("outage", Full)
	sales := 0
	for _, st := range outage.Steps {
		if st.Op == OpSell {
			sales += st.N
		}
	}
	if sales != 10_000 {
		t.Errorf("outage sells %d at full size, want 10,000", sales)
	}
	small, _ := Load("outage", Small)
	if small.Steps[1].N >= outage.Steps[1].N {
		t.Errorf("small=%d is not smaller than %d", small.Steps[1].N, outage.Steps[1].N)
	}
}

func TestParse(t *testing.T) {
	sc, err := Parse("t", strings.NewReader(`# t: a test
# more words

stores 2
tills 4 small=3
products 50
hq on
refunds 5%
rate 20/s

sell 100 small=10 on t1,s2.t2 rate 5 background   # a comment
wait sales 50 small=5 30s
partition t1 t2 | t3
heal
kill relay
restart all
wipe s2.t1
skew t2 +3h
skew t3 -90m
hq down s2
hq up
shift open on t1
receive on s2.t2
chaos 30 small=7
wait converged 2m
check
latency t3 40ms loss 2%
latency t1,t2 300ms
latency t3 off
power-cut 200 small=4
`), Small)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Doc != "t: a test\nmore words" || sc.Stores != 2 || sc.Tills != 3 || sc.Products != 50 || !sc.HQ || sc.Refunds != 5 || sc.Rate != 20 {
		t.Fatalf("header: %+v", sc)
	}
	s := sc.Steps
	if got := s[0]; got.Op != OpSell || got.N != 10 || !got.Background || got.Rate != 5 ||
		len(got.Tills) != 2 || got.Tills[1] != (TillRef{Store: 2, Index: 2}) {
		t.Errorf("sell: %+v", got)
	}
	if got := s[1]; got.Op != OpWait || got.Arg != "sales" || got.N != 5 || got.Timeout != 30*time.Second {
		t.Errorf("wait sales: %+v", got)
	}
	if got := s[2]; len(got.Groups) != 2 || len(got.Groups[0]) != 2 || got.Groups[1][0].Index != 3 {
		t.Errorf("partition: %+v", got)
	}
	if got := s[4]; !got.Tills[0].Relay {
		t.Errorf("kill relay: %+v", got)
	}
	if got := s[5]; !everyTill(got.Tills) {
		t.Errorf("restart all: %+v", got)
	}
	if got := s[7]; got.Skew != 3*time.Hour || got.Tills[0].Index != 2 {
		t.Errorf("skew: %+v", got)
	}
	if got := s[8]; got.Skew != -90*time.Minute {
		t.Errorf("skew: %+v", got)
	}
	if got := s[9]; got.Op != OpHQ || got.Arg != "down" || got.Store != 2 {
		t.Errorf("hq down: %+v", got)
	}
	if got := s[13]; got.Op != OpChaos || got.N != 7 {
		t.Errorf("chaos: %+v", got)
	}
	if got := s[14]; got.Arg != "converged" || got.Timeout != 2*time.Minute {
		t.Errorf("wait converged: %+v", got)
	}
	if got := s[16]; got.Op != OpLatency || got.Tills[0].Index != 3 || got.Link != (p2p.Fault{Delay: 40 * time.Millisecond, Loss: 0.02}) {
		t.Errorf("latency: %+v", got)
	}
	if got := s[17]; len(got.Tills) != 2 || got.Link != (p2p.Fault{Delay: 300 * time.Millisecond}) {
		t.Errorf("latency on two tills: %+v", got)
	}
	if got := s[18]; got.Op != OpLatency || got.Link != (p2p.Fault{}) {
		t.Errorf("latency off: %+v", got)
	}
	if got := s[19]; got.Op != OpPowerCut || got.N != 4 || sc.Power != "ext4" {
		t.Errorf("power-cut: %+v, model %q (want ext4 by default)", got, sc.Power)
	}
	sc, err = Parse("p", strings.NewReader("power posix\npower-cut 3\n"), Full)
	if err != nil || sc.Power != "posix" || sc.Steps[0].N != 3 {
		t.Errorf("power posix: %+v, %v", sc, err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown step", "dance", `unknown step "dance"`},
		{"no steps", "tills 3", "no steps"},
		{"till out of range", "tills 3\nkill t4", "no till t4"},
		{"store out of range", "kill s2.t1", "no till s2.t1"},
		{"bad count", "sell many", `"many" is not a number`},
		{"zero sales", "sell 0", "at least 1"},
		{"header after steps", "sell 1\ntills 3", "belongs in the header"},
		{"hq step without hq", "hq down", "needs `hq on`"},
		{"wait hq without hq", "wait hq", "needs `hq on`"},
		{"till on both sides", "partition t1 | t1", "on two sides"},
		{"partition across stores", "stores 2\npartition t1 | s2.t1", "share no LAN"},
		{"skew without offset", "skew t1", "missing offset"},
		{"bad skew", "skew t1 +3x", "offset"},
		{"clock backwards", "clock -3h", "want a duration forward"},
		{"clock without a duration", "clock", "want a duration forward"},
		{"bad wait", "wait forever", `wait "forever"`},
		{"kill all", "kill all", "name the tills"},
		{"sell junk", "sell 5 quickly", `unexpected "quickly"`},
		{"latency without a till", "latency 40ms", "name the tills"},
		{"latency without a delay", "latency t1", "missing delay"},
		{"latency too long", "latency t1 2s", "delay"},
		{"loss too high", "latency t1 40ms loss 70%", "loss"},
		{"loss without percent", "latency t1 40ms loss 0.5", "loss"},
		{"unknown power model", "power ntfs\npower-cut 1", "want posix or ext4"},
		{"power after steps", "power-cut 1\npower posix", "belongs in the header"},
		{"no cuts", "power-cut 0", "at least 1"},
		{"race units zero", "race 3 units=0", "units=N"},
		{"race junk", "race 3 later", `unexpected "later"`},
		{"offline without a limit", "offline", "missing number"},
		{"transfer to itself", "stores 2\ntransfer 1 s2 s2", "same store"},
		{"transfer to no store", "stores 2\ntransfer 1 s1 s3", "has 2 store(s)"},
		{"transfer junk", "stores 2\ntransfer 1 s1 s2 later", `unexpected "later"`},
		{"transfer without stores", "stores 2\ntransfer 1 s1", "want a store like s2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x", strings.NewReader(tt.text), Full)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "x:") {
				t.Errorf("error %q does not name the scenario (and line)", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	if _, err := Load("no-such-scenario", Small); !errors.Is(err, ErrUnknownScenario) {
		t.Fatalf("got %v", err)
	}
	src, err := Source("outage")
	if err != nil || !strings.Contains(src, "partition t3") {
		t.Fatalf("Source: %v %q", err, src)
	}
	if _, err := Parse("x", strings.NewReader("sell 1"), "medium"); err == nil {
		t.Fatal("scale medium accepted")
	}
}

// A power cut needs till processes: inproc refuses it before building
// anything, with an error the tests skip on.
func TestPowerCutNeedsProcess(t *testing.T) {
	sc, err := Parse("p", strings.NewReader("power-cut 1\n"), Small)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	_, err = Run(t.Context(), sc, cfg)
	if !errors.Is(err, ErrNoPower) || !strings.Contains(err.Error(), "process mode") {
		t.Fatalf("inproc power-cut: %v, want ErrNoPower naming process mode", err)
	}
}

// A failed start is reported by what the till printed, not by the last
// lines of its stack.
func TestStartFailure(t *testing.T) {
	log := `=== start 2026-12-06T15:15:40Z
time=2026-12-06T15:15:41Z level=WARN msg="an earlier start"
=== start 2026-12-06T15:15:46Z
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x180 pc=0x12a6be2]

goroutine 1 [running]:
github.com/tillmesh/tillmesh/node.(*Till).Close(0x0)
	/src/node/till.go:450 +0x22
main.main()
	/src/cmd/tillmesh/main.go:20 +0xc5
`
	path := filepath.Join(t.TempDir(), "t1-1.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	got := startFailure(path)
	for _, want := range []string{"panic: runtime error", "node.(*Till).Close"} {
		if !strings.Contains(got, want) {
			t.Errorf("startFailure = %q, want it to name %q", got, want)
		}
	}
}
