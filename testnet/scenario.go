package testnet

import (
	"bufio"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/node/p2p"
)

//go:embed scenarios/*.txt
var builtins embed.FS

// Scale selects the sizes a scenario runs at: Full as written, Small the
// CI size each line gives with small=N.
type Scale string

// Scales.
const (
	Small Scale = "small"
	Full  Scale = "full"
)

// Scenario is a parsed scenario file: a store layout and the steps to
// run against it. Numbers are already resolved for one scale.
type Scenario struct {
	Name     string
	Doc      string // the leading comment block
	Scale    Scale
	Stores   int
	Tills    int // per store
	Products int
	HQ       bool
	Refunds  int     // percent of sales followed by a refund of some sale
	Rate     float64 // sales per second per till; 0: as fast as the till answers
	Power    string  // powerfs model of the stores' disks (posix or ext4) when a step cuts the power
	Outbox   bool    // a fiscal service and a messenger the store's outbox sends to (outbox.go)
	Steps    []Step
}

// Op names a step.
type Op string

// Steps.
const (
	OpSell      Op = "sell"
	OpReceive   Op = "receive"
	OpShift     Op = "shift"
	OpPartition Op = "partition"
	OpHeal      Op = "heal"
	OpKill      Op = "kill"
	OpRestart   Op = "restart"
	OpWipe      Op = "wipe"
	OpSkew      Op = "skew"
	OpLatency   Op = "latency"
	OpHQ        Op = "hq"
	OpWait      Op = "wait"
	OpCheck     Op = "check"
	OpChaos     Op = "chaos"
	OpPowerCut  Op = "power-cut"
	OpUpgrade   Op = "upgrade"   // rolling-upgrade: move tills to the new release
	OpNewKind   Op = "newkind"   // rolling-upgrade: events of a kind the previous release does not know
	OpRace      Op = "race"      // double-spend: every till refunds the same sales at once (doublespend.go)
	OpOffline   Op = "offline"   // double-spend: the store allows offline refunds up to N race units per till
	OpOverspent Op = "overspent" // double-spend: HQ lists every over-spend of the offline race, within the limit
	OpTransfer  Op = "transfer"  // stock sent between stores (transfers.go)
	OpInternet  Op = "internet"  // internet down|up: HQ, the fiscal service and the messenger (outbox.go)
	OpClock     Op = "clock"     // clock +3h: simulated time passes for every till, HQ and the fiscal service
)

// Step is one line of a scenario.
type Step struct {
	Line int
	Text string // as written, for progress and errors
	Op   Op

	N          int           // sell: sales; wait sales: at least this many of the background sell; chaos: draws; power-cut: cuts
	Tills      []TillRef     // sell, receive, shift, kill, restart, wipe, skew, latency: the tills named; nil = every till
	Groups     [][]TillRef   // partition: the sides
	Rate       float64       // sell: sales per second per till (overrides the header; -1: header)
	Background bool          // sell: do not wait for the sales
	Arg        string        // shift: open|close; hq: down|up; wait: converged|hq|sales|relay
	Store      int           // hq: the store (0: all); transfer: the sending store
	To         int           // transfer: the receiving store
	Skew       time.Duration // skew; clock: how far simulated time moves on
	Link       p2p.Fault     // latency: the fault on the named tills' links
	Timeout    time.Duration // wait: 0 = the run's default
	Units      int           // race: units of each new race sale (0: 2 x tills)
}

// TillRef names a till in a scenario: till Index of store Store, or the
// store's current relay (Relay), or every till that is down (All with a
// restart).
type TillRef struct {
	Store int // 1-based
	Index int // 1-based; 0 with Relay
	Relay bool
}

func (r TillRef) String() string {
	name := fmt.Sprintf("t%d", r.Index)
	if r.Relay {
		name = "relay"
	}
	if r.Store > 1 {
		return fmt.Sprintf("s%d.%s", r.Store, name)
	}
	return name
}

// Builtins lists the built-in scenarios' names.
func Builtins() []string {
	ents, _ := builtins.ReadDir("scenarios")
	var names []string
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), ".txt"))
	}
	sort.Strings(names)
	return names
}

// ErrUnknownScenario is returned by Load for a name that is neither a
// file nor a built-in.
var ErrUnknownScenario = errors.New("testnet: no such scenario")

// Load reads a scenario from a file path, or a built-in by name.
func Load(nameOrPath string, scale Scale) (*Scenario, error) {
	if b, err := os.ReadFile(nameOrPath); err == nil {
		name := strings.TrimSuffix(path.Base(nameOrPath), ".txt")
		return Parse(name, strings.NewReader(string(b)), scale)
	}
	name := strings.TrimSuffix(nameOrPath, ".txt")
	b, err := builtins.ReadFile("scenarios/" + name + ".txt")
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a file or a built-in (built-ins: %s)", ErrUnknownScenario, nameOrPath, strings.Join(Builtins(), ", "))
	}
	return Parse(name, strings.NewReader(string(b)), scale)
}

// Parse reads a scenario. See the package documentation for the format.
func Parse(name string, r io.Reader, scale Scale) (*Scenario, error) {
	if scale != Small && scale != Full {
		return nil, fmt.Errorf("scale %q: want small or full", scale)
	}
	sc := &Scenario{Name: name, Scale: scale, Stores: 1, Tills: 3, Products: 100, Refunds: 0}
	s := bufio.NewScanner(r)
	var doc []string
	inDoc := true
	ln := 0
	for s.Scan() {
		ln++
		raw := s.Text()
		line := raw
		if i := strings.Index(line, "#"); i >= 0 {
			if inDoc && strings.TrimSpace(line[:i]) == "" {
				doc = append(doc, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#")))
				continue
			}
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			if len(doc) > 0 {
				inDoc = false
			}
			continue
		}
		inDoc = false
		p := &lineParser{name: name, line: ln, scale: scale, text: line}
		if err := p.parse(sc); err != nil {
			return nil, err
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	sc.Doc = strings.TrimSpace(strings.Join(doc, "\n"))
	if sc.Power == "" && sc.powerCuts() {
		sc.Power = "ext4"
	}
	if len(sc.Steps) == 0 {
		return nil, fmt.Errorf("%s: no steps", name)
	}
	// Till references must name tills that exist.
	for _, st := range sc.Steps {
		refs := append([]TillRef(nil), st.Tills...)
		for _, g := range st.Groups {
			refs = append(refs, g...)
		}
		for _, r := range refs {
			if r == (TillRef{}) {
				continue // all
			}
			if r.Store < 1 || r.Store > sc.Stores || (!r.Relay && (r.Index < 1 || r.Index > sc.Tills)) {
				return nil, fmt.Errorf("%s:%d: %s: no till %s (the scenario has %d store(s) of %d tills)", name, st.Line, st.Op, r, sc.Stores, sc.Tills)
			}
		}
		if st.Op == OpHQ && st.Store > sc.Stores {
			return nil, fmt.Errorf("%s:%d: hq: no store s%d", name, st.Line, st.Store)
		}
		if (st.Op == OpHQ || st.Op == OpWait && st.Arg == "hq") && !sc.HQ {
			return nil, fmt.Errorf("%s:%d: %s needs `hq on` in the header", name, st.Line, st.Text)
		}
		if st.Op == OpPartition {
			seen := map[TillRef]bool{}
			for _, g := range st.Groups {
				for _, r := range g {
					if r.Relay {
						return nil, fmt.Errorf("%s:%d: partition: name tills by number", name, st.Line)
					}
					if seen[r] {
						return nil, fmt.Errorf("%s:%d: partition: %s is on two sides", name, st.Line, r)
					}
					seen[r] = true
					if r.Store != st.Groups[0][0].Store {
						return nil, fmt.Errorf("%s:%d: partition: tills of different stores share no LAN", name, st.Line)
					}
				}
			}
		}
	}
	return sc, nil
}

type lineParser struct {
	name  string
	line  int
	scale Scale
	text  string
	toks  []string
	i     int
}

func (p *lineParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.name, p.line, fmt.Sprintf(format, args...))
}

func (p *lineParser) next() (string, bool) {
	if p.i >= len(p.toks) {
		return "", false
	}
	t := p.toks[p.i]
	p.i++
	return t, true
}

func (p *lineParser) peek() string {
	if p.i >= len(p.toks) {
		return ""
	}
	return p.toks[p.i]
}

// number reads N and an optional small=M that replaces it at Small.
func (p *lineParser) number(what string) (float64, error) {
	t, ok := p.next()
	if !ok {
		return 0, p.errorf("%s: missing number", what)
	}
	v, err := parseNum(t)
	if err != nil {
		return 0, p.errorf("%s: %q is not a number", what, t)
	}
	if strings.HasPrefix(p.peek(), "small=") {
		st, _ := p.next()
		sv, err := parseNum(strings.TrimPrefix(st, "small="))
		if err != nil {
			return 0, p.errorf("%s: %q is not a number", what, st)
		}
		if p.scale == Small {
			v = sv
		}
	}
	return v, nil
}

func parseNum(s string) (float64, error) {
	s = strings.TrimSuffix(strings.TrimSuffix(s, "%"), "/s")
	s = strings.ReplaceAll(s, "_", "")
	return strconv.ParseFloat(s, 64)
}

func (p *lineParser) count(what string, min int) (int, error) {
	v, err := p.number(what)
	if err != nil {
		return 0, err
	}
	if v != float64(int(v)) || int(v) < min {
		return 0, p.errorf("%s: %v: want a whole number of at least %d", what, v, min)
	}
	return int(v), nil
}

func (p *lineParser) done() error {
	if t, ok := p.next(); ok {
		return p.errorf("unexpected %q", t)
	}
	return nil
}

// tills reads till references up to the end of the line or a keyword.
func (p *lineParser) tills(stop ...string) ([]TillRef, error) {
	var refs []TillRef
	for {
		t := p.peek()
		if t == "" || t == "|" || (t[0] >= '0' && t[0] <= '9') || strings.HasPrefix(t, "+") || strings.HasPrefix(t, "-") {
			return refs, nil
		}
		for _, s := range stop {
			if t == s {
				return refs, nil
			}
		}
		p.next()
		for _, part := range strings.Split(t, ",") {
			if part == "" {
				continue
			}
			if part == "all" {
				refs = append(refs, TillRef{}) // marks "every till"
				continue
			}
			r, err := parseTillRef(part)
			if err != nil {
				return nil, p.errorf("%v", err)
			}
			refs = append(refs, r)
		}
	}
}

// parseTillRef reads t3, s2.t3, relay or s2.relay.
func parseTillRef(s string) (TillRef, error) {
	r := TillRef{Store: 1}
	if st, rest, ok := strings.Cut(s, "."); ok {
		n, err := strconv.Atoi(strings.TrimPrefix(st, "s"))
		if !strings.HasPrefix(st, "s") || err != nil || n < 1 {
			return r, fmt.Errorf("till %q: want t<N>, s<N>.t<N>, relay or s<N>.relay", s)
		}
		r.Store, s = n, rest
	}
	if s == "relay" {
		r.Relay = true
		return r, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "t"))
	if !strings.HasPrefix(s, "t") || err != nil || n < 1 {
		return r, fmt.Errorf("till %q: want t<N>, s<N>.t<N>, relay or s<N>.relay", s)
	}
	r.Index = n
	return r, nil
}

// everyTill reports whether refs says "every till" (empty, or `all`).
func everyTill(refs []TillRef) bool {
	if len(refs) == 0 {
		return true
	}
	for _, r := range refs {
		if r == (TillRef{}) {
			return true
		}
	}
	return false
}

func (p *lineParser) parse(sc *Scenario) error {
	p.toks = strings.Fields(p.text)
	kw, _ := p.next()
	// Header.
	switch kw {
	case "stores", "tills", "products":
		n, err := p.count(kw, 1)
		if err != nil {
			return err
		}
		switch kw {
		case "stores":
			sc.Stores = n
		case "tills":
			sc.Tills = n
		case "products":
			sc.Products = n
		}
		if len(sc.Steps) > 0 {
			return p.errorf("%s belongs in the header, before the first step", kw)
		}
		return p.done()
	case "hq":
		a, _ := p.next()
		switch a {
		case "on", "off":
			if len(sc.Steps) > 0 {
				return p.errorf("hq %s belongs in the header; steps say `hq down` and `hq up`", a)
			}
			sc.HQ = a == "on"
			return p.done()
		case "crash":
			sc.Steps = append(sc.Steps, Step{Line: p.line, Text: p.text, Op: OpHQ, Arg: a})
			return p.done()
		case "down", "up":
			st := Step{Line: p.line, Text: p.text, Op: OpHQ, Arg: a}
			if t, ok := p.next(); ok {
				n, err := strconv.Atoi(strings.TrimPrefix(t, "s"))
				if !strings.HasPrefix(t, "s") || err != nil || n < 1 {
					return p.errorf("hq %s %s: want a store like s2", a, t)
				}
				st.Store = n
			}
			sc.Steps = append(sc.Steps, st)
			return p.done()
		}
		return p.errorf("hq %q: want on or off (header), down, up or crash (step)", a)
	case "power":
		a, _ := p.next()
		if a != "posix" && a != "ext4" {
			return p.errorf("power %q: want posix or ext4 (what the disks lose at a cut)", a)
		}
		if len(sc.Steps) > 0 {
			return p.errorf("power belongs in the header, before the first step")
		}
		sc.Power = a
		return p.done()
	case "outbox":
		if a, _ := p.next(); a != "on" {
			return p.errorf("outbox %q: want `outbox on` (header)", a)
		}
		if len(sc.Steps) > 0 {
			return p.errorf("outbox belongs in the header, before the first step")
		}
		sc.Outbox = true
		return p.done()
	case "internet":
		a, _ := p.next()
		if a != "down" && a != "up" {
			return p.errorf("internet %q: want down or up", a)
		}
		if !sc.Outbox {
			return p.errorf("internet %s: needs `outbox on` in the header", a)
		}
		sc.Steps = append(sc.Steps, Step{Line: p.line, Text: p.text, Op: OpInternet, Arg: a})
		return p.done()
	case "clock":
		// Simulated time passes: every clock of the run (tills, HQ,
		// the fiscal service) moves on together, on top of any till's
		// own skew. It never goes back: a till's HLC would not follow.
		t, _ := p.next()
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 || d > 48*time.Hour {
			return p.errorf("clock %q: want a duration forward like +3h (at most 48h a step)", t)
		}
		sc.Steps = append(sc.Steps, Step{Line: p.line, Text: p.text, Op: OpClock, Skew: d})
		return p.done()
	case "refunds":
		v, err := p.number(kw)
		if err != nil {
			return err
		}
		if v < 0 || v > 100 {
			return p.errorf("refunds %v%%: want 0 to 100", v)
		}
		sc.Refunds = int(v)
		return p.done()
	case "rate":
		v, err := p.number(kw)
		if err != nil {
			return err
		}
		if v < 0 {
			return p.errorf("rate %v: want sales per second per till, 0 for as fast as possible", v)
		}
		sc.Rate = v
		return p.done()
	}

	st := Step{Line: p.line, Text: p.text, Op: Op(kw), Rate: -1}
	var err error
	switch st.Op {
	case OpSell:
		if st.N, err = p.count("sell", 1); err != nil {
			return err
		}
		for {
			t, ok := p.next()
			if !ok {
				break
			}
			switch t {
			case "on":
				if st.Tills, err = p.tills("rate", "background"); err != nil {
					return err
				}
			case "rate":
				if st.Rate, err = p.number("rate"); err != nil {
					return err
				}
			case "background":
				st.Background = true
			default:
				return p.errorf("sell: unexpected %q (sell N [on TILLS] [rate R] [background])", t)
			}
		}
	case OpReceive:
		if t, ok := p.next(); ok {
			if t != "on" {
				return p.errorf("receive: unexpected %q (receive [on TILLS])", t)
			}
			if st.Tills, err = p.tills(); err != nil {
				return err
			}
		}
	case OpShift:
		st.Arg, _ = p.next()
		if st.Arg != "open" && st.Arg != "close" {
			return p.errorf("shift %q: want open or close", st.Arg)
		}
		if t, ok := p.next(); ok {
			if t != "on" {
				return p.errorf("shift: unexpected %q (shift open|close [on TILLS])", t)
			}
			if st.Tills, err = p.tills(); err != nil {
				return err
			}
		}
	case OpPartition:
		for {
			g, err := p.tills()
			if err != nil {
				return err
			}
			if len(g) == 0 || everyTill(g) {
				return p.errorf("partition: each side names tills (partition t3, or partition t1 t2 | t3)")
			}
			st.Groups = append(st.Groups, g)
			if _, ok := p.next(); !ok {
				break
			}
		}
	case OpChaos:
		if st.N, err = p.count("chaos", 1); err != nil {
			return err
		}
	case OpPowerCut:
		if st.N, err = p.count("power-cut", 1); err != nil {
			return err
		}
	case OpRace:
		if st.N, err = p.count("race", 1); err != nil {
			return err
		}
		for _, o := range []string{"units=", "sell", "offline"} {
			t := p.peek()
			switch {
			case o == "units=" && strings.HasPrefix(t, o):
				p.next()
				if st.Units, err = strconv.Atoi(strings.TrimPrefix(t, o)); err != nil || st.Units < 1 {
					return p.errorf("race: %q: want units=N, N at least 1", t)
				}
			case o != "units=" && t == o:
				p.next()
				st.Arg = o
			}
		}
	case OpOffline:
		if st.N, err = p.count("offline", 1); err != nil {
			return err
		}
	case OpOverspent:
	case OpHeal, OpCheck:
	case OpTransfer:
		if err := p.parseTransfer(&st, sc.Stores); err != nil {
			return err
		}
	case OpNewKind:
		if st.N, err = p.count("newkind", 1); err != nil {
			return err
		}
		if t, ok := p.next(); !ok || t != "on" {
			return p.errorf("newkind: name the upgraded tills (newkind 5 on t1)")
		}
		if st.Tills, err = p.tills(); err != nil {
			return err
		}
		if len(st.Tills) == 0 || everyTill(st.Tills) {
			return p.errorf("newkind: name the upgraded tills (newkind 5 on t1)")
		}
	case OpKill, OpRestart, OpWipe, OpUpgrade:
		if st.Tills, err = p.tills(); err != nil {
			return err
		}
		if len(st.Tills) == 0 {
			return p.errorf("%s: name a till", kw)
		}
		if everyTill(st.Tills) && st.Op != OpRestart {
			return p.errorf("%s all: name the tills", kw)
		}
	case OpSkew:
		if st.Tills, err = p.tills(); err != nil {
			return err
		}
		if len(st.Tills) != 1 || everyTill(st.Tills) {
			return p.errorf("skew: skew TILL +3h")
		}
	case OpLatency:
		if st.Tills, err = p.tills("off"); err != nil {
			return err
		}
		if len(st.Tills) == 0 || everyTill(st.Tills) {
			return p.errorf("latency: name the tills (latency t3 40ms [loss 2%%], latency t3 off)")
		}
		if st.Link, err = p.fault(); err != nil {
			return err
		}
	case OpWait:
		st.Arg, _ = p.next()
		switch st.Arg {
		case "converged", "hq", "relay":
		case "outbox":
			if !sc.Outbox {
				return p.errorf("wait outbox: needs `outbox on` in the header")
			}
			if isCount(p.peek()) {
				if st.N, err = p.count("wait outbox", 1); err != nil {
					return err
				}
			}
		case "sales":
			if isCount(p.peek()) {
				if st.N, err = p.count("wait sales", 1); err != nil {
					return err
				}
			}
		default:
			return p.errorf("wait %q: want converged, hq, relay, outbox [N] or sales [N]", st.Arg)
		}
		if t, ok := p.next(); ok {
			if st.Timeout, err = time.ParseDuration(t); err != nil || st.Timeout <= 0 {
				return p.errorf("wait %s: timeout %q: want a duration like 90s", st.Arg, t)
			}
		}
	default:
		return p.errorf("unknown step %q (sell, receive, transfer, shift, partition, heal, kill, restart, wipe, upgrade, newkind, skew, clock, latency, hq, wait, check, chaos, power-cut, race, offline, overspent)", kw)
	}
	if st.Op == OpSkew {
		t, ok := p.next()
		if !ok {
			return p.errorf("skew: missing offset (skew t2 +3h, skew t2 0)")
		}
		if t == "0" {
			st.Skew = 0
		} else if st.Skew, err = time.ParseDuration(t); err != nil {
			return p.errorf("skew: offset %q: want a duration like +3h or -90m", t)
		}
	}
	if err := p.done(); err != nil {
		return err
	}
	sc.Steps = append(sc.Steps, st)
	return nil
}

// fault reads "DELAY [loss P%]" or "off" of a latency step.
func (p *lineParser) fault() (p2p.Fault, error) {
	t, ok := p.next()
	if !ok {
		return p2p.Fault{}, p.errorf("latency: missing delay (latency t3 40ms [loss 2%%], latency t3 off)")
	}
	var f p2p.Fault
	if t != "off" {
		d, err := time.ParseDuration(t)
		if err != nil || d < 0 || d > time.Second {
			return f, p.errorf("latency: delay %q: want a duration up to 1s, like 40ms", t)
		}
		f.Delay = d
		if t, ok := p.next(); ok {
			if t != "loss" {
				return f, p.errorf("latency: unexpected %q (latency t3 40ms loss 2%%)", t)
			}
			pc, _ := p.next()
			v, err := strconv.ParseFloat(strings.TrimSuffix(pc, "%"), 64)
			if err != nil || !strings.HasSuffix(pc, "%") || v < 0 || v > 50 {
				return f, p.errorf("latency: loss %q: want a percentage up to 50%%, like 2%%", pc)
			}
			f.Loss = v / 100
		}
	}
	return f, nil
}

func isCount(s string) bool {
	_, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	return err == nil
}

// Source returns a built-in scenario's text.
func Source(name string) (string, error) {
	b, err := builtins.ReadFile("scenarios/" + strings.TrimSuffix(name, ".txt") + ".txt")
	if err != nil {
		return "", fmt.Errorf("%w: %q (built-ins: %s)", ErrUnknownScenario, name, strings.Join(Builtins(), ", "))
	}
	return string(b), nil
}
