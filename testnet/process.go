package testnet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/p2p"
	"github.com/tillmesh/tillmesh/ui"
)

// procTill is a `tillmesh till` child process. The harness sells over its
// HTTP API with a cashier and a manager session, reads its status and
// stock there, and sends it block, unblock and skew commands on its
// stdin (the hidden --testnet-control flag), one per line, each answered
// on stdout by "testnet <id> ok" or "testnet <id> error <reason>".
type procTill struct {
	h    *harness
	s    *slot
	inc  *incarnation
	cmd  *exec.Cmd
	base string // http://host:port
	log  *os.File

	stdin io.WriteCloser
	ctlMu sync.Mutex // one command at a time
	// legacyReceipts: this process runs the previous release, whose
	// receipt numbers were "<till>-<seq>".
	legacyReceipts bool
	ctlSeq         int
	replies        chan string

	exited chan struct{}
	peak   atomic.Int64 // kB

	sessMu   sync.Mutex
	sessions map[string]*session // by staff ID
}

type session struct {
	client *http.Client
	csrf   string
}

// procArgs are the arguments of a till process; the netns mode changes
// the addresses and discovery.
type procArgs struct {
	prefix []string // e.g. ip netns exec NAME
	http   string   // host:port the API listens on
	listen string   // libp2p multiaddr
	peers  []string
	mdns   bool
}

func (h *harness) startProcess(ctx context.Context, s *slot, inc *incarnation, a procArgs, blocked []peer.ID) (*procTill, error) {
	args := append([]string{}, a.prefix...)
	bin := h.binaryFor(s)
	args = append(args, bin, "--log-level", h.cfg.ChildLogLevel, "till", "--data", inc.dir,
		"--http", a.http, "--listen", a.listen, "--testnet-control")
	for _, p := range a.peers {
		args = append(args, "--peer", p)
	}
	if !a.mdns {
		args = append(args, "--no-mdns")
	}
	if h.sc.HQ {
		args = append(args, "--hq", s.st.hqURL)
	}
	if d := s.offset(); d != 0 {
		args = append(args, "--clock-skew="+d.String())
	}
	if h.shaping() {
		args = append(args, fmt.Sprintf("--shape-seed=%d", h.shapeSeed(s, inc)))
	}
	logf, err := os.OpenFile(fmt.Sprintf("%s/logs/%s-%d.log", h.dir, s.name, inc.number), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = childEnv(os.Environ())
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	p := &procTill{h: h, s: s, inc: inc, cmd: cmd, base: "http://" + a.http, log: logf, stdin: stdin, legacyReceipts: bin != h.cfg.Binary,
		replies: make(chan string, 16), exited: make(chan struct{}), sessions: map[string]*session{}}
	h.procs.add(p)
	go p.readStdout(stdout)
	go func() {
		cmd.Wait()
		logf.Close()
		h.procs.remove(p)
		close(p.exited)
	}()
	go p.watchRSS()
	// Blocks first, so a partitioned till never reaches across the cut
	// (the other side refuses it too).
	if len(blocked) > 0 {
		if err := p.block(ctx, blocked, true); err != nil {
			p.stop(true)
			return nil, err
		}
	}
	var st ui.Status
	if err := poll(ctx, 30*time.Second, 10*time.Millisecond, func() (bool, error) {
		select {
		case <-p.exited:
			return false, fmt.Errorf("till process exited: %s", tail(logf.Name()))
		default:
		}
		return p.get(ctx, "/api/status", &st) == nil, nil
	}); err != nil {
		p.stop(true)
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	return p, nil
}

// tail returns the last lines of a log file, for errors.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

func (p *procTill) readStdout(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "testnet ") {
			select {
			case p.replies <- line:
			default:
			}
		}
	}
	close(p.replies)
}

// watchRSS samples the process's peak RSS (VmHWM) until it exits.
func (p *procTill) watchRSS() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		if _, hwm := ProcMem(p.cmd.Process.Pid); hwm > p.peak.Load() {
			p.peak.Store(hwm)
		}
		select {
		case <-p.exited:
			return
		case <-t.C:
		}
	}
}

func (p *procTill) peakRSS() int64 {
	if _, hwm := ProcMem(p.cmd.Process.Pid); hwm > p.peak.Load() {
		p.peak.Store(hwm)
	}
	return p.peak.Load()
}

func (p *procTill) node() *node.Till { return nil }

func (p *procTill) stop(kill bool) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	if rss := p.peakRSS(); rss > p.inc.peakKB.Load() {
		p.inc.peakKB.Store(rss)
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		if !kill {
			return fmt.Errorf("%s did not stop within 15 s of SIGTERM: killed", p.s.name)
		}
	}
	return nil
}

// control sends one command and waits for its answer.
func (p *procTill) control(ctx context.Context, verb string, args ...string) error {
	_, err := p.controlAnswer(ctx, verb, args...)
	return err
}

// controlAnswer sends one command and returns what its "ok" answer
// carries after the word ok.
func (p *procTill) controlAnswer(ctx context.Context, verb string, args ...string) ([]string, error) {
	p.ctlMu.Lock()
	defer p.ctlMu.Unlock()
	p.ctlSeq++
	id := strconv.Itoa(p.ctlSeq)
	line := strings.Join(append([]string{id, verb}, args...), " ") + "\n"
	if _, err := io.WriteString(p.stdin, line); err != nil {
		return nil, fmt.Errorf("%s: control %s: %w", p.s.name, verb, err)
	}
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case r, ok := <-p.replies:
			if !ok {
				return nil, fmt.Errorf("%s: control %s: %w", p.s.name, verb, errDown)
			}
			f := strings.Fields(r)
			if len(f) < 3 || f[1] != id {
				continue // an answer to a command given up on
			}
			if f[2] != "ok" {
				return nil, fmt.Errorf("%s: control %s: %s", p.s.name, verb, strings.Join(f[2:], " "))
			}
			return f[3:], nil
		case <-deadline.C:
			return nil, fmt.Errorf("%s: control %s: no answer (was the till built with --testnet-control?)", p.s.name, verb)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (p *procTill) block(ctx context.Context, peers []peer.ID, on bool) error {
	if len(peers) == 0 {
		return nil
	}
	verb := "unblock"
	if on {
		verb = "block"
	}
	ids := make([]string, len(peers))
	for i, x := range peers {
		ids[i] = x.String()
	}
	return p.control(ctx, verb, ids...)
}

func (p *procTill) shape(ctx context.Context, target string, f p2p.Fault) error {
	return p.control(ctx, "shape", target, f.Delay.String(), strconv.FormatFloat(f.Loss, 'f', -1, 64))
}

func (p *procTill) setSkew(ctx context.Context) error {
	return p.control(ctx, "skew", p.s.offset().String())
}

var apiClient = &http.Client{Timeout: 30 * time.Second}

// get reads a public route.
func (p *procTill) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// login opens a session for a staff member; a till that was just started
// may not hold the staff list yet, so the caller retries.
func (p *procTill) login(ctx context.Context, staff string) (*session, error) {
	p.sessMu.Lock()
	defer p.sessMu.Unlock()
	if s := p.sessions[staff]; s != nil {
		return s, nil
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Timeout: 30 * time.Second, Jar: jar}
	pin := pinOf(staff)
	body, _ := json.Marshal(map[string]string{"staff": staff, "pin": pin})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/api/login", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("login staff %s: %s %s", staff, resp.Status, bytes.TrimSpace(b))
	}
	var sv struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.Unmarshal(b, &sv); err != nil || sv.CSRF == "" {
		return nil, fmt.Errorf("login staff %s: no csrf_token in %s", staff, b)
	}
	s := &session{client: c, csrf: sv.CSRF}
	p.sessions[staff] = s
	return s, nil
}

func (p *procTill) dropSession(staff string) {
	p.sessMu.Lock()
	delete(p.sessions, staff)
	p.sessMu.Unlock()
}

// post sends a state-changing request as staff (send).
func (p *procTill) post(ctx context.Context, staff, path string, in, v any) error {
	return p.send(ctx, http.MethodPost, staff, path, in, v)
}

// put sends a PUT as staff (the settings; send).
func (p *procTill) put(ctx context.Context, staff, path string, in any) error {
	return p.send(ctx, http.MethodPut, staff, path, in, nil)
}

// send sends a state-changing request as staff: 2xx decodes into v (v
// nil: the answer is not read); 4xx is a refusal; anything else (no
// answer, 5xx) may be retried with the same idempotency key. A 401 is
// retried once with a new session: the till restarted, and sessions live
// in memory.
func (p *procTill) send(ctx context.Context, method, staff, path string, in, v any) error {
	for attempt := 0; ; attempt++ {
		s, err := p.login(ctx, staff)
		if err != nil {
			return err
		}
		body, err := json.Marshal(in)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, method, p.base+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", s.csrf)
		resp, err := s.client.Do(req)
		if err != nil {
			return err
		}
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case rerr != nil:
			return rerr
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			p.dropSession(staff)
			continue
		case resp.StatusCode/100 == 2:
			if v == nil {
				return nil
			}
			if err := json.Unmarshal(b, v); err != nil {
				return fmt.Errorf("%w: %s %s: %v", errBadAnswer, method, path, err)
			}
			return nil
		case resp.StatusCode == http.StatusServiceUnavailable && bytes.Contains(b, []byte("cannot be reached")):
			// The till that owns the sale or card is cut off and the
			// store refuses offline spends: a definite no (doublespend.go).
			return refused("%s %s: %s %s", method, path, resp.Status, bytes.TrimSpace(b))
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusLocked ||
			resp.StatusCode == http.StatusUnauthorized || resp.StatusCode >= 500:
			return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, bytes.TrimSpace(b))
		default:
			return refused("%s %s: %s %s", method, path, resp.Status, bytes.TrimSpace(b))
		}
	}
}

func (p *procTill) sell(ctx context.Context, req ui.SaleRequest) (ackInfo, error) {
	var s ui.Sale
	if err := p.post(ctx, cashierID, "/api/sales", req, &s); err != nil {
		return ackInfo{}, err
	}
	id, err := ledger.ParseEventID(s.EventID)
	if err != nil {
		return ackInfo{}, fmt.Errorf("sale answer: %w", err)
	}
	a := ackInfo{ID: id, Seq: s.Seq, Receipt: s.Receipt, Replayed: s.Replayed, Lines: s.Lines, Moves: map[string]int64{}}
	for _, l := range s.Lines {
		a.Moves[l.SKU] -= l.Qty
	}
	return a, nil
}

func (p *procTill) refund(ctx context.Context, key string, sale ledger.EventID, picks []ledger.Pick) (ackInfo, error) {
	var r ui.RefundResult
	req := ui.RefundRequest{IdempotencyKey: key, Sale: sale.String(), Lines: picks, Tender: ledger.Cash, Reason: "testnet"}
	// Refunds above the store's refund limit need a supervisor: the
	// manager approves (their PIN is only checked when needed).
	req.Approver, req.ApproverPIN = managerID, "1234"
	if err := p.post(ctx, cashierID, "/api/refunds", req, &r); err != nil {
		return ackInfo{}, err
	}
	return ackFromView(r.EventID, r.Receipt, r.Seq, r.Replayed, func(m map[string]int64) {
		for _, l := range r.Lines {
			m[l.SKU] += l.Qty
		}
	})
}

func ackFromView(eventID, receipt string, seq uint64, replayed bool, moves func(map[string]int64)) (ackInfo, error) {
	a := ackInfo{Receipt: receipt, Seq: seq, Replayed: replayed, Moves: map[string]int64{}}
	if eventID != "" {
		id, err := ledger.ParseEventID(eventID)
		if err != nil {
			return a, fmt.Errorf("answer: %w", err)
		}
		a.ID = id
	}
	if seq == 0 {
		// A release before receipt numbers answers no seq: its receipt
		// number was "<till>-<seq>".
		_, s, ok := strings.Cut(receipt, "-")
		n, err := strconv.ParseUint(s, 10, 64)
		if !ok || err != nil || n == 0 {
			return a, fmt.Errorf("answer: no seq (receipt %q)", receipt)
		}
		a.Seq = n
	}
	if moves != nil {
		moves(a.Moves)
	}
	return a, nil
}

func (p *procTill) shift(ctx context.Context, key string, open bool) (ackInfo, error) {
	if open {
		var st ui.ShiftState
		if err := p.post(ctx, cashierID, "/api/shift/open", map[string]any{"idempotency_key": key, "float": shiftFloat}, &st); err != nil {
			return ackInfo{}, err
		}
		if st.Open == nil {
			return ackInfo{}, errors.New("shift open answered without an open shift")
		}
		return ackInfo{Seq: st.Open.OpenSeq}, nil // a shift open takes no receipt number
	}
	var z struct {
		Seq uint64 `json:"seq"`
	}
	counted := []ledger.Denomination{{Value: 1000, Count: 10}}
	if err := p.post(ctx, cashierID, "/api/shift/close", map[string]any{"idempotency_key": key, "counted": counted}, &z); err != nil {
		return ackInfo{}, err
	}
	return ackFromView("", "", z.Seq, false, nil) // a Z's number is not a receipt number
}

func (p *procTill) receive(ctx context.Context, key string, lines []ledger.StockLine) (ackInfo, error) {
	req := ui.StockRequest{IdempotencyKey: key, Ref: "testnet delivery"}
	for _, l := range lines {
		req.Lines = append(req.Lines, ui.StockLine{SKU: l.SKU, Qty: l.Qty})
	}
	var r struct {
		Event struct {
			Receipt string `json:"receipt"`
			EventID string `json:"event_id"`
			Seq     uint64 `json:"seq"`
		} `json:"event"`
	}
	if err := p.post(ctx, managerID, "/api/stock/receive", req, &r); err != nil {
		return ackInfo{}, err
	}
	return ackFromView(r.Event.EventID, r.Event.Receipt, r.Event.Seq, false, func(m map[string]int64) {
		for _, l := range lines {
			m[l.SKU] += l.Qty
		}
	})
}

func (p *procTill) ready(ctx context.Context) (bool, error) {
	var all []ui.StockLevel
	if err := p.get(ctx, "/api/stock", &all); err != nil {
		return false, err
	}
	if len(all) < len(p.h.catalog) {
		return false, nil
	}
	for _, staff := range []string{cashierID, managerID} {
		if _, err := p.login(ctx, staff); err != nil {
			return false, nil
		}
	}
	return true, nil
}

func (p *procTill) status(ctx context.Context) (ui.Status, error) {
	var st ui.Status
	err := p.get(ctx, "/api/status", &st)
	return st, err
}

func (p *procTill) vector(ctx context.Context) (ledger.Vector, error) {
	st, err := p.status(ctx)
	if err != nil {
		return nil, err
	}
	v := ledger.Vector{}
	for name, seq := range st.VersionVector {
		id, ok := p.s.st.tillByName(name)
		if !ok {
			return nil, fmt.Errorf("%s: status names unknown till %q", p.s.name, name)
		}
		v[id] = seq
	}
	return v, nil
}

func (p *procTill) stockLevel(ctx context.Context, sku string) (ui.StockLevel, error) {
	var l ui.StockLevel
	err := p.get(ctx, "/api/stock/"+sku, &l)
	return l, err
}

func (p *procTill) crdtHeads(ctx context.Context) ([]string, error) {
	st, err := p.status(ctx)
	if err != nil {
		return nil, err
	}
	sort.Strings(st.CRDTHeads)
	return st.CRDTHeads, nil
}

func (p *procTill) stock(ctx context.Context) (map[string]int64, error) {
	var all []ui.StockLevel
	if err := p.get(ctx, "/api/stock", &all); err != nil {
		return nil, err
	}
	m := make(map[string]int64, len(all))
	for _, l := range all {
		m[l.SKU] = l.Total
	}
	return m, nil
}

func (p *procTill) isRelay(ctx context.Context) (bool, error) {
	st, err := p.status(ctx)
	return err == nil && st.HQ.Relay == "this till", err
}

// ProcMem returns VmRSS and VmHWM (peak) of a process in kB, from /proc.
func ProcMem(pid int) (rss, hwm int64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "VmRSS:":
				rss = v
			case "VmHWM:":
				hwm = v
			}
		}
	}
	return rss, hwm
}

// procSet is every till process started and not yet exited, starting
// ones included: a power cut kills them all at once.
type procSet struct {
	mu sync.Mutex
	m  map[*procTill]bool
}

func (ps *procSet) add(p *procTill) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m == nil {
		ps.m = map[*procTill]bool{}
	}
	ps.m[p] = true
}

func (ps *procSet) remove(p *procTill) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.m, p)
}

// killAll sends SIGKILL to every process without waiting for it.
func (ps *procSet) killAll() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for p := range ps.m {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// childEnv is the environment of a till process: the caller's without any
// TILLMESH_* setting, and TILLMESH_CONFIG empty so that no configuration
// file is read either (a machine with the package installed has
// /etc/tillmesh/till.conf). The till runs on its flags alone, as the
// scenario says. An environment variable rather than --config "" because
// the rolling upgrade's previous release has no --config flag. The
// measuring variables TILLMESH_MEM_REPORT and TILLMESH_CPU_PROFILE (each
// till's memory split and CPU profiles, BENCHMARKS.md) pass through.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "TILLMESH_") || strings.HasPrefix(kv, "TILLMESH_MEM_REPORT=") || strings.HasPrefix(kv, "TILLMESH_CPU_PROFILE=") {
			out = append(out, kv)
		}
	}
	return append(out, "TILLMESH_CONFIG=")
}
